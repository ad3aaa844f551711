//! Gathering the build model: what the provisioner reports about each machine, joined with what
//! the state store's journal recorded of earlier applies (the configuration drydock deployed,
//! deploy generations, last failures, unfinished tasks, the site's prepared configuration and
//! the apply epoch). This is the I/O half of planning; `plan` itself only reads the
//! [`Observed`] made here, and computes nothing of the design here.

use crate::driver::{DriverError, Provisioner};
use crate::model::Site;
use crate::model::observed::{Observed, ObservedNode};
use crate::state::Journal;

/// Observe every node of the site (and whatever else the provisioner or the journal knows).
pub async fn gather(
    site: &Site,
    provisioner: &dyn Provisioner,
    journal: &Journal,
) -> Result<Observed, DriverError> {
    let names: Vec<String> = site.nodes.iter().map(|n| n.name.v.clone()).collect();
    let machines = provisioner.observe(&names).await?;
    let links: Vec<String> = site.links.iter().map(|l| l.name.v.clone()).collect();
    let cidrs: Vec<String> = site
        .networks
        .iter()
        .filter_map(|n| n.cidr.as_ref().map(|c| c.v.to_string()))
        .collect();
    let foreign = provisioner.foreign(&links, &cidrs).await?;
    let mut observed = Observed {
        source: provisioner.name().to_string(),
        foreign,
        site: journal.site.clone(),
        site_generation: journal.epoch,
        ..Observed::default()
    };
    for (name, m) in machines {
        observed.nodes.insert(
            name,
            ObservedNode {
                power: m.power,
                status: m.status,
                deployed_fingerprint: m.deployed_fingerprint,
                ..ObservedNode::default()
            },
        );
    }
    for (name, rec) in &journal.nodes {
        let o = observed.nodes.entry(name.clone()).or_default();
        o.recorded_fingerprint = rec.fingerprint.clone();
        o.deployed = rec.snapshot.clone();
        o.generation = rec.generation;
        o.last_failure = rec.last_failure.clone();
        o.unfinished = rec.unfinished.clone();
    }
    Ok(observed)
}

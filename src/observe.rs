//! Gathering the build model: what the provisioner reports about each machine, joined with what
//! the state store's journal recorded of earlier applies (the configuration drydock deployed,
//! deploy generations, last failures, the site's prepared configuration and the apply epoch).
//! This is the I/O half of planning; `plan` itself only reads the [`Observed`] made here.

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
    let mut observed = Observed {
        source: provisioner.name().to_string(),
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
        o.deployed = rec.snapshot.clone();
        o.generation = rec.generation;
        o.last_failure = rec.last_failure.clone();
    }
    // A deploy that finished in the world but was never journaled (drydock was killed between
    // the provisioner's "done" and the journal's record): the provisioner reports the
    // fingerprint of exactly the design's configuration, so that is what is deployed. Apply
    // records it (`inferred`), so a later change is diffed against it instead of against
    // nothing.
    for n in &site.nodes {
        let Some(o) = observed.nodes.get_mut(&n.name.v) else {
            continue;
        };
        let recorded = journal
            .nodes
            .get(&n.name.v)
            .and_then(|r| r.fingerprint.as_deref());
        // Only a deployed machine whose fingerprint the journal does not have needs its
        // snapshot computed here (planning computes every node's anyway).
        if o.status != crate::model::observed::Status::Deployed
            || o.deployed_fingerprint.is_none()
            || o.deployed_fingerprint.as_deref() == recorded
        {
            continue;
        }
        let snap = crate::model::snapshot::node(site, n);
        let fp = crate::model::snapshot::fingerprint(&snap);
        if o.deployed_fingerprint.as_deref() == Some(fp.as_str()) {
            o.deployed = Some(snap);
        }
    }
    Ok(observed)
}

/// Nodes whose deployed configuration `gather` inferred from the provisioner and the journal
/// does not record yet: `(node, fingerprint, snapshot)`.
pub fn inferred(
    observed: &Observed,
    journal: &Journal,
) -> Vec<(String, String, crate::model::observed::Snapshot)> {
    observed
        .nodes
        .iter()
        .filter_map(|(name, o)| {
            let snap = o.deployed.as_ref()?;
            let fp = o.deployed_fingerprint.clone()?;
            let recorded = journal
                .nodes
                .get(name)
                .and_then(|r| r.fingerprint.as_deref());
            (recorded != Some(fp.as_str()) && crate::model::snapshot::fingerprint(snap) == fp)
                .then(|| (name.clone(), fp, snap.clone()))
        })
        .collect()
}

//! Gathering the build model: what the provisioner reports about each machine, joined with what
//! the state store recorded of earlier applies. This is the I/O half of planning; `plan` itself
//! only reads the [`Observed`] made here.

use crate::driver::{Observe, ObserveError};
use crate::model::Site;
use crate::model::observed::{Observed, ObservedNode};

/// Observe every node of the site (and whatever else the provisioner holds).
pub fn gather(site: &Site, provisioner: &dyn Observe) -> Result<Observed, ObserveError> {
    let names: Vec<&str> = site.nodes.iter().map(|n| n.name.v.as_str()).collect();
    let machines = provisioner.observe(&names)?;
    let mut observed = Observed {
        source: provisioner.name().to_string(),
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
    Ok(observed)
}

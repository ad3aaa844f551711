//! The simulator driver: the embedded default provisioner and BMC, so that `drydock plan` and
//! `drydock apply` work on a fresh machine with nothing else running. Its world (machines, their
//! states, power and boot devices) is a file in the state directory.

pub mod world;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::driver::{Machine, Observe, ObserveError};
pub use world::World;

/// The simulator, rooted in a state directory.
pub struct Simulator {
    pub state_dir: PathBuf,
}

impl Simulator {
    pub fn new(state_dir: impl Into<PathBuf>) -> Simulator {
        Simulator {
            state_dir: state_dir.into(),
        }
    }

    /// The images and kernels the simulator offers (rule DD3001).
    pub fn catalog() -> crate::validate::Catalog {
        crate::validate::Catalog::simulator()
    }
}

impl Observe for Simulator {
    fn name(&self) -> &str {
        "simulator"
    }

    fn observe(&self, _nodes: &[&str]) -> Result<BTreeMap<String, Machine>, ObserveError> {
        let w = World::load(&self.state_dir).map_err(|e| ObserveError::Failed(e.to_string()))?;
        Ok(w.machines
            .into_iter()
            .map(|(name, m)| {
                (
                    name,
                    Machine {
                        status: m.status,
                        power: m.power,
                        deployed_fingerprint: m.deployed_fingerprint,
                    },
                )
            })
            .collect())
    }
}

//! Drivers: the code that talks to the world (provisioners, BMCs, site services). They know
//! nothing of plans or the executor; they take node descriptions and answer with facts.
//!
//! - `sim`: the embedded simulator (the default): MAAS-like machines and BMCs whose world
//!   lives in the state directory.

pub mod sim;

use std::collections::BTreeMap;

use crate::model::observed::{Power, Status};

/// What a provisioner reports about one machine.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Machine {
    pub status: Status,
    pub power: Power,
    pub deployed_fingerprint: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("{0}")]
    Failed(String),
}

/// Observation, the part of a provisioner that planning needs.
///
/// # Guarantees
/// Reads only; changes nothing in the world. Every name asked for is either in the answer
/// (the provisioner knows the machine) or not (it does not).
pub trait Observe {
    /// Who answers (`simulator`, `maas`), for messages.
    fn name(&self) -> &str;
    /// The machines the provisioner knows, by node name: the ones asked for, and any other it
    /// holds for this site.
    fn observe(&self, nodes: &[&str]) -> Result<BTreeMap<String, Machine>, ObserveError>;
}

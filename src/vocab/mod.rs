//! The bottom vocabulary: the types every layer speaks and that carry no logic of ours — task
//! and step kinds and task ids, `Secret`, the image catalogue a provisioner offers, the wall
//! clock in journal form. It imports nothing of drydock's, so `state` need not import `plan`
//! and drivers need not import `validate`.

pub mod catalog;
pub mod secret;
pub mod task;

pub use catalog::Catalog;
pub use secret::Secret;
pub use task::{StepKind, TaskId, TaskKind};

/// Milliseconds since the Unix epoch (journal timestamps, simulated operation deadlines).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

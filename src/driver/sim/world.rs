//! The simulator's world: its machines (MAAS-like status, BMC power and next boot device, the
//! fingerprint each was deployed with, what is in progress), kept in a checksummed log in the
//! state directory (`STATE/sim.log`, `durable::Log`) so that a later `plan` observes what the
//! last apply did, and can read it while an apply runs.
//!
//! The simulator makes a change durable before it answers `Done` (as a real provisioner
//! commits before it answers), so after a crash the world is never behind the journal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::observed::{Power, Status};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BootDevice {
    #[default]
    Disk,
    Pxe,
}

/// One simulated machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    #[serde(default = "version")]
    pub v: u32,
    pub status: Status,
    pub power: Power,
    /// The next boot device (a one-time PXE override, or disk).
    pub boot: BootDevice,
    pub deployed_fingerprint: Option<String>,
    /// Steps applied since the machine was last released (idempotency: applying one again is
    /// a no-op).
    #[serde(default)]
    pub applied: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// A long operation in progress and when it completes (Unix ms).
    #[serde(default)]
    pub busy: Option<(String, u64)>,
    /// How many times the machine was power-cycled (tests read it).
    #[serde(default)]
    pub power_cycles: u64,
}

fn version() -> u32 {
    FORMAT_VERSION
}

impl Default for Machine {
    fn default() -> Machine {
        Machine {
            v: FORMAT_VERSION,
            status: Status::New,
            power: Power::Off,
            boot: BootDevice::Disk,
            deployed_fingerprint: None,
            applied: Vec::new(),
            tags: Vec::new(),
            busy: None,
            power_cycles: 0,
        }
    }
}

/// The whole world, as a value (for tests and for reading it outside an apply).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct World {
    pub machines: BTreeMap<String, Machine>,
    /// Site preparation steps done, sorted.
    pub site: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("the simulator's world {0}")]
    Log(#[from] crate::durable::LogError),
    #[error("the simulator's world in {0} is damaged: {1}")]
    Corrupt(PathBuf, String),
}

/// One record of the world's log: the latest record of a machine (or a site step) wins.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Rec {
    Machine { name: String, machine: Machine },
    Site { key: String },
}

fn base(state_dir: &Path) -> PathBuf {
    state_dir.join("sim")
}

/// Fold the world's records.
fn fold(raw: Vec<Vec<u8>>, path: &Path) -> Result<World, WorldError> {
    let mut w = World::default();
    for (i, bytes) in raw.into_iter().enumerate() {
        let r: Rec = serde_json::from_slice(&bytes)
            .map_err(|e| WorldError::Corrupt(path.to_path_buf(), format!("record {i}: {e}")))?;
        match r {
            Rec::Machine { name, machine } => {
                if machine.v != FORMAT_VERSION {
                    return Err(WorldError::Corrupt(
                        path.to_path_buf(),
                        format!("machine record of version {}", machine.v),
                    ));
                }
                w.machines.insert(name, machine);
            }
            Rec::Site { key } => w.site.push(key),
        }
    }
    w.site.sort_unstable();
    w.site.dedup();
    Ok(w)
}

/// The open log of a world, for writing (one writer: the apply holding the site lock).
pub struct Db {
    pub path: PathBuf,
    log: crate::durable::Log,
}

impl Db {
    /// Open (or create) the world's log in `state_dir`, with the world it holds.
    pub fn open(state_dir: &Path) -> Result<(Db, World), WorldError> {
        let (log, raw) = crate::durable::Log::open(&base(state_dir))?;
        let path = log.path().to_path_buf();
        let world = fold(raw, &path)?;
        Ok((Db { path, log }, world))
    }

    pub fn put(&self, name: &str, m: &Machine) {
        let r = Rec::Machine {
            name: name.to_string(),
            machine: m.clone(),
        };
        self.log
            .append(&serde_json::to_vec(&r).expect("plain data serializes"));
    }

    pub fn put_site(&self, key: &str) {
        let r = Rec::Site { key: key.into() };
        self.log
            .append(&serde_json::to_vec(&r).expect("plain data serializes"));
    }

    /// Make every change so far durable.
    pub async fn sync(&self) -> Result<(), String> {
        self.log.sync().await
    }

    /// Record that the world's log is complete up to here.
    pub fn checkpoint(&self) -> Result<(), WorldError> {
        Ok(self.log.checkpoint()?)
    }
}

impl World {
    /// The world in `state_dir` (empty when there is none yet), read without writing.
    pub fn load(state_dir: &Path) -> Result<World, WorldError> {
        let b = base(state_dir);
        match crate::durable::read(&b)? {
            Some(c) => fold(c.records, &b.with_extension("log")),
            None => Ok(World::default()),
        }
    }

    /// Replace the world in `state_dir` with this one, durably (tests).
    pub fn save(&self, state_dir: &Path) -> Result<(), WorldError> {
        let b = base(state_dir);
        for ext in ["log", "head"] {
            let _ = std::fs::remove_file(b.with_extension(ext));
        }
        let (db, _) = Db::open(state_dir)?;
        for (name, m) in &self.machines {
            db.put(name, m);
        }
        for s in &self.site {
            db.put_site(s);
        }
        db.checkpoint()
    }
}

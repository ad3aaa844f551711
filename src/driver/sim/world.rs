//! The simulator's world: its machines (MAAS-like status, BMC power and next boot device, the
//! fingerprint each was deployed with, what is in progress), kept in a sled database in the
//! state directory (`STATE/sim`) so that a later `plan` observes what the last apply did.
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
    /// Site preparation steps done.
    pub site: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot open the simulator's world in {0}: {1}")]
    Open(PathBuf, String),
    #[error("the simulator's world in {0} is corrupt: {1}")]
    Corrupt(PathBuf, String),
    #[error("cannot write the simulator's world in {0}: {1}")]
    Write(PathBuf, String),
}

/// The open database of a world.
pub struct Db {
    pub path: PathBuf,
    pub machines: sled::Tree,
    pub site: sled::Tree,
    pub db: sled::Db,
}

impl Db {
    pub fn open(state_dir: &Path) -> Result<Db, WorldError> {
        let path = state_dir.join("sim");
        let e = |x: &dyn std::fmt::Display| WorldError::Open(path.clone(), x.to_string());
        std::fs::create_dir_all(&path).map_err(|x| e(&x))?;
        let db = crate::durable::open_db(&path).map_err(|x| e(&x))?;
        let machines = db.open_tree("machines").map_err(|x| e(&x))?;
        let site = db.open_tree("site").map_err(|x| e(&x))?;
        Ok(Db {
            path,
            machines,
            site,
            db,
        })
    }

    pub fn read(&self) -> Result<World, WorldError> {
        let corrupt =
            |x: &dyn std::fmt::Display| WorldError::Corrupt(self.path.clone(), x.to_string());
        let mut w = World::default();
        for kv in self.machines.iter() {
            let (k, v) = kv.map_err(|x| corrupt(&x))?;
            let m: Machine = serde_json::from_slice(&v).map_err(|x| corrupt(&x))?;
            if m.v != FORMAT_VERSION {
                return Err(corrupt(&format!("machine record of version {}", m.v)));
            }
            w.machines
                .insert(String::from_utf8_lossy(&k).into_owned(), m);
        }
        for kv in self.site.iter() {
            let (k, _) = kv.map_err(|x| corrupt(&x))?;
            w.site.push(String::from_utf8_lossy(&k).into_owned());
        }
        Ok(w)
    }

    pub fn put(&self, name: &str, m: &Machine) -> Result<(), WorldError> {
        self.machines
            .insert(
                name.as_bytes(),
                serde_json::to_vec(m).expect("plain data serializes"),
            )
            .map(|_| ())
            .map_err(|x| WorldError::Write(self.path.clone(), x.to_string()))
    }
}

impl World {
    /// The world in `state_dir` (empty when there is none yet).
    pub fn load(state_dir: &Path) -> Result<World, WorldError> {
        Db::open(state_dir)?.read()
    }

    /// Replace the world in `state_dir` with this one, durably.
    pub fn save(&self, state_dir: &Path) -> Result<(), WorldError> {
        let db = Db::open(state_dir)?;
        let w = |x: &dyn std::fmt::Display| WorldError::Write(db.path.clone(), x.to_string());
        db.machines.clear().map_err(|x| w(&x))?;
        db.site.clear().map_err(|x| w(&x))?;
        for (name, m) in &self.machines {
            db.put(name, m)?;
        }
        for s in &self.site {
            db.site.insert(s.as_bytes(), &[]).map_err(|x| w(&x))?;
        }
        db.db.flush().map_err(|x| w(&x))?;
        Ok(())
    }
}

//! The simulator's world: its machines (MAAS-like status, BMC power and boot device, the
//! fingerprint each was deployed with), kept in the state directory as JSON so that a later
//! `plan` observes what the last apply did. Writes are atomic (temporary file, fsync, rename):
//! a crash leaves the old world or the new one, never half of either.

use std::collections::BTreeMap;
use std::io::Write;
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Machine {
    pub status: Status,
    pub power: Power,
    /// The next boot device (one-time PXE override or disk).
    pub boot: BootDevice,
    pub deployed_fingerprint: Option<String>,
    /// The steps that have been applied since the machine was last released, for idempotency
    /// (a step applied twice is a no-op the second time).
    #[serde(default)]
    pub applied: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct World {
    pub version: u32,
    pub machines: BTreeMap<String, Machine>,
    /// Site-level preparation done (networks, credentials, images).
    #[serde(default)]
    pub site_prepared: Vec<String>,
}

impl Default for World {
    fn default() -> World {
        World {
            version: FORMAT_VERSION,
            machines: BTreeMap::new(),
            site_prepared: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot read the simulator's world {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("the simulator's world {0} is not valid: {1}")]
    Corrupt(PathBuf, String),
    #[error("cannot write the simulator's world {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

impl World {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("sim").join("world.json")
    }

    /// The world in `state_dir`, or an empty one when there is none yet.
    pub fn load(state_dir: &Path) -> Result<World, WorldError> {
        let path = World::path(state_dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(World::default()),
            Err(e) => return Err(WorldError::Read(path, e)),
        };
        let w: World = serde_json::from_slice(&bytes)
            .map_err(|e| WorldError::Corrupt(path.clone(), e.to_string()))?;
        if w.version != FORMAT_VERSION {
            return Err(WorldError::Corrupt(
                path,
                format!(
                    "format version {} (this drydock reads {FORMAT_VERSION})",
                    w.version
                ),
            ));
        }
        Ok(w)
    }

    /// Write the world atomically.
    pub fn save(&self, state_dir: &Path) -> Result<(), WorldError> {
        let path = World::path(state_dir);
        let err = |e| WorldError::Write(path.clone(), e);
        let dir = path.parent().expect("world path has a parent");
        std::fs::create_dir_all(dir).map_err(err)?;
        let tmp = dir.join(format!(".world.json.{}.tmp", std::process::id()));
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(&serde_json::to_vec_pretty(self).expect("plain data serializes"))
            .map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

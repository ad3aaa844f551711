//! Saved plan files (`drydock plan --out FILE`, `drydock apply FILE`): the plan, the design
//! paths and the state directory it was made for. JSON, written atomically. Staleness is
//! checked by apply against the design's content hash and the observed-state fingerprint that
//! the plan records.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::{FORMAT_VERSION, Plan};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// The design paths the plan was made from, as given.
    pub paths: Vec<PathBuf>,
    /// The state directory it was made against.
    pub state: PathBuf,
    pub plan: Plan,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot write the plan to {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error("cannot read the plan file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} is not a drydock plan file: {1}")]
    Invalid(PathBuf, String),
    #[error("{0} is a plan file of format {1}; this drydock reads format {FORMAT_VERSION}")]
    Version(PathBuf, u32),
}

impl SavedPlan {
    pub fn write(&self, path: &Path) -> Result<(), PlanFileError> {
        let err = |e| PlanFileError::Write(path.to_path_buf(), e);
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        let mut bytes = serde_json::to_vec_pretty(self).expect("plain data serializes");
        bytes.push(b'\n');
        f.write_all(&bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    pub fn read(path: &Path) -> Result<SavedPlan, PlanFileError> {
        let bytes = std::fs::read(path).map_err(|e| PlanFileError::Read(path.to_path_buf(), e))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| PlanFileError::Invalid(path.to_path_buf(), e.to_string()))?;
        let version = v["plan"]["format_version"].as_u64().unwrap_or(0) as u32;
        if version != FORMAT_VERSION {
            return Err(PlanFileError::Version(path.to_path_buf(), version));
        }
        serde_json::from_value(v)
            .map_err(|e| PlanFileError::Invalid(path.to_path_buf(), e.to_string()))
    }

    /// Whether a path looks like a saved plan rather than a design (apply takes either).
    pub fn looks_like(path: &Path) -> bool {
        path.is_file() && path.extension().is_some_and(|e| e == "json" || e == "plan")
    }
}

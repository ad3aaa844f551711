//! What the boot service knows of each machine, durable in the state directory
//! (`STATE/boot/machines.log`, a `durable` log; the latest record of a node wins): its
//! provisioning status and the fingerprint it was deployed with (what `observe` reports), the
//! stage of the deploy in progress, the hash of its one-time token, the hardware its deploy
//! agent reported, the phases it went through, and its boot actions' signals.
//!
//! The provisioner driver and the HTTP handlers both change records; every change is made
//! durable before the caller answers (a node's callback is acknowledged only once recorded).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::model::observed::Status;

pub const FORMAT_VERSION: u32 = 1;

/// Where a deploy stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Nothing in progress.
    #[default]
    Idle,
    /// A token was issued; the node should netboot the deploy agent.
    Armed,
    /// The agent reported its hardware and waits for the deploy.
    Inventoried,
    /// The deploy was released to the agent; phases arrive.
    Deploying,
    /// The agent reported that the disk is written.
    Written,
    /// The deploy failed (the reason is in `failure`).
    Failed,
}

/// A NIC the agent found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    pub name: String,
    pub mac: String,
    /// PCI address (`0000:00:03.0`), when it has one.
    pub pci: Option<String>,
}

/// A disk the agent found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    pub name: String,
    pub bytes: u64,
    /// Its bus address (PCI for virtio, `H:C:T:L` for SCSI), when it has one.
    pub address: Option<String>,
}

/// What the deploy agent reported of the machine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub nics: Vec<Nic>,
    pub disks: Vec<Disk>,
    pub memory_bytes: Option<u64>,
    pub cpus: Option<u64>,
}

impl Inventory {
    /// Parse the agent's report: lines `nic NAME MAC PCI`, `disk NAME BYTES ADDRESS`,
    /// `memory BYTES`, `cpus N` (`-` for an unknown address). Unknown lines are ignored; a
    /// malformed known line is an error.
    pub fn parse(text: &str) -> Result<Inventory, String> {
        let mut inv = Inventory::default();
        let opt = |s: &str| (s != "-" && !s.is_empty()).then(|| s.to_string());
        for (i, line) in text.lines().enumerate() {
            let w: Vec<&str> = line.split_whitespace().collect();
            let bad = || format!("inventory line {}: `{}`", i + 1, line.trim());
            match w.first().copied() {
                Some("nic") if w.len() >= 3 => inv.nics.push(Nic {
                    name: w[1].to_string(),
                    mac: w[2].to_ascii_lowercase(),
                    pci: w.get(3).and_then(|s| opt(s)),
                }),
                Some("disk") if w.len() >= 3 => inv.disks.push(Disk {
                    name: w[1].to_string(),
                    bytes: w[2].parse().map_err(|_| bad())?,
                    address: w.get(3).and_then(|s| opt(s)),
                }),
                Some("memory") if w.len() == 2 => {
                    inv.memory_bytes = Some(w[1].parse().map_err(|_| bad())?)
                }
                Some("cpus") if w.len() == 2 => inv.cpus = Some(w[1].parse().map_err(|_| bad())?),
                Some("nic" | "disk" | "memory" | "cpus") => return Err(bad()),
                _ => {}
            }
        }
        Ok(inv)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    #[default]
    Pending,
    Running,
    Success,
    Failure,
}

impl ActionStatus {
    /// The old API's words (`Success`, `Failure`, `Running`), case-insensitive.
    pub fn parse(s: &str) -> Option<ActionStatus> {
        match s.to_ascii_lowercase().as_str() {
            "success" => Some(ActionStatus::Success),
            "failure" => Some(ActionStatus::Failure),
            "running" => Some(ActionStatus::Running),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, ActionStatus::Success | ActionStatus::Failure)
    }
}

/// One boot action of the deploy in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ActionRecord {
    /// The id the node signals with (`POST /api/v1.0/bootactions/{id}`).
    pub id: String,
    pub signaling: bool,
    pub status: ActionStatus,
    /// The messages of the signals, oldest first (at most 20 kept).
    pub messages: Vec<String>,
}

/// One machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub v: u32,
    pub status: Status,
    pub stage: Stage,
    pub deployed_fingerprint: Option<String>,
    /// SHA-256 of the node's one-time token (none: no deploy in progress).
    pub token_hash: Option<String>,
    /// Counts the deploys started (part of boot-action ids).
    pub generation: u64,
    /// When the token was issued or the node last powered on for the agent (Unix ms).
    pub armed_ms: Option<u64>,
    pub inventory: Option<Inventory>,
    /// Phases the agent reported, `(unix ms, text)`, the latest 50.
    pub phases: Vec<(u64, String)>,
    pub failure: Option<String>,
    /// Boot actions by name.
    pub actions: BTreeMap<String, ActionRecord>,
}

impl Default for Record {
    fn default() -> Record {
        Record {
            v: FORMAT_VERSION,
            status: Status::Unknown,
            stage: Stage::Idle,
            deployed_fingerprint: None,
            token_hash: None,
            generation: 0,
            armed_ms: None,
            inventory: None,
            phases: Vec::new(),
            failure: None,
            actions: BTreeMap::new(),
        }
    }
}

impl Record {
    pub fn last_phase(&self) -> Option<&str> {
        self.phases.last().map(|(_, p)| p.as_str())
    }

    pub fn push_phase(&mut self, at: u64, phase: String) {
        self.phases.push((at, phase));
        if self.phases.len() > 50 {
            self.phases.remove(0);
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Rec {
    name: String,
    record: Record,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("the boot records {0}")]
    Log(#[from] crate::durable::LogError),
    #[error("the boot records {0} are damaged: {1}")]
    Corrupt(PathBuf, String),
}

fn base(boot_dir: &Path) -> PathBuf {
    boot_dir.join("machines")
}

fn fold(raw: Vec<Vec<u8>>, path: &Path) -> Result<HashMap<String, Record>, RecordsError> {
    let mut m = HashMap::new();
    for (i, bytes) in raw.into_iter().enumerate() {
        let r: Rec = serde_json::from_slice(&bytes)
            .map_err(|e| RecordsError::Corrupt(path.to_path_buf(), format!("record {i}: {e}")))?;
        if r.record.v != FORMAT_VERSION {
            return Err(RecordsError::Corrupt(
                path.to_path_buf(),
                format!("record {i} has version {}", r.record.v),
            ));
        }
        m.insert(r.name, r.record);
    }
    Ok(m)
}

/// Every machine's record; writable when opened by the process that runs the boot service.
pub struct Records {
    log: Option<crate::durable::Log>,
    pub path: PathBuf,
    map: Mutex<HashMap<String, Record>>,
}

impl Records {
    /// Open for writing (one writer: the apply or `serve` holding the boot lock).
    pub fn open(boot_dir: &Path) -> Result<Records, RecordsError> {
        std::fs::create_dir_all(boot_dir).map_err(|e| {
            RecordsError::Log(crate::durable::LogError::Io {
                path: boot_dir.to_path_buf(),
                source: e,
            })
        })?;
        let (log, raw) = crate::durable::Log::open(&base(boot_dir))?;
        let path = log.path().to_path_buf();
        let map = fold(raw, &path)?;
        Ok(Records {
            log: Some(log),
            path,
            map: Mutex::new(map),
        })
    }

    /// Read without writing (plan, status): empty when there are none yet.
    pub fn read(boot_dir: &Path) -> Result<Records, RecordsError> {
        let b = base(boot_dir);
        let path = b.with_extension("log");
        let map = match crate::durable::read(&b)? {
            Some(c) => fold(c.records, &path)?,
            None => HashMap::new(),
        };
        Ok(Records {
            log: None,
            path,
            map: Mutex::new(map),
        })
    }

    pub fn get(&self, name: &str) -> Option<Record> {
        self.map.lock().expect("records lock").get(name).cloned()
    }

    pub fn all(&self) -> Vec<(String, Record)> {
        let mut v: Vec<(String, Record)> = self
            .map
            .lock()
            .expect("records lock")
            .iter()
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Change one record (created on first use) and make it durable; the closure's answer.
    /// `Err` when the records are read-only or the disk fails.
    pub async fn update<R>(
        &self,
        name: &str,
        f: impl FnOnce(&mut Record) -> R,
    ) -> Result<R, String> {
        let Some(log) = &self.log else {
            return Err("the boot records were opened read-only".into());
        };
        let (r, payload) = {
            let mut m = self.map.lock().expect("records lock");
            let rec = m.entry(name.to_string()).or_default();
            let r = f(rec);
            let payload = serde_json::to_vec(&Rec {
                name: name.to_string(),
                record: rec.clone(),
            })
            .expect("plain data serializes");
            // Appended under the map's lock, so the log's order is the map's.
            log.append(&payload);
            (r, payload.len())
        };
        let _ = payload;
        log.sync()
            .await
            .map_err(|e| format!("cannot write the boot records {}: {e}", self.path.display()))?;
        Ok(r)
    }

    /// Record that the log is complete up to here (the end of an apply or of `serve`).
    pub fn checkpoint(&self) -> Result<(), RecordsError> {
        match &self.log {
            Some(l) => Ok(l.checkpoint()?),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inventory_report_parses() {
        let inv = Inventory::parse(
            "nic eth0 52:54:00:AA:00:01 0000:00:03.0\nnic eth1 52:54:00:aa:00:02 -\ndisk vda 2147483648 0000:00:05.0\nmemory 268435456\ncpus 1\nsomething new\n",
        )
        .unwrap();
        assert_eq!(inv.nics[0].mac, "52:54:00:aa:00:01");
        assert_eq!(inv.nics[0].pci.as_deref(), Some("0000:00:03.0"));
        assert_eq!(inv.nics[1].pci, None);
        assert_eq!(inv.disks[0].bytes, 2 << 30);
        assert_eq!(inv.cpus, Some(1));
        assert!(
            Inventory::parse("disk vda lots")
                .unwrap_err()
                .contains("line 1")
        );
    }

    #[tokio::test]
    async fn records_survive_a_reopen_and_read_only_refuses_writes() {
        let d = tempfile::tempdir().unwrap();
        let r = Records::open(d.path()).unwrap();
        r.update("n1", |x| {
            x.status = Status::Deployed;
            x.deployed_fingerprint = Some("fp".into());
        })
        .await
        .unwrap();
        r.checkpoint().unwrap();
        drop(r);
        let ro = Records::read(d.path()).unwrap();
        assert_eq!(ro.get("n1").unwrap().status, Status::Deployed);
        assert!(ro.update("n1", |_| ()).await.is_err());
        let again = Records::open(d.path()).unwrap();
        assert_eq!(
            again.get("n1").unwrap().deployed_fingerprint.as_deref(),
            Some("fp")
        );
    }
}

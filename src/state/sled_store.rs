//! The embedded state store: the journal in a sled database in the state directory
//! (`STATE/journal`). Keys are big-endian sequence numbers, values JSON records carrying their
//! format version.
//!
//! Durability is by group commit (`durable::GroupSync`): a thousand tasks finishing at once cost
//! one disk sync, not a thousand.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::durable::{GroupSync, open_db};
use crate::state::{Record, StateStore, StoreError};

pub struct SledStore {
    path: PathBuf,
    tree: sled::Tree,
    next: AtomicU64,
    syncer: GroupSync,
}

impl SledStore {
    /// Open (or create) the journal in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<SledStore, StoreError> {
        let path = state_dir.join("journal");
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(&path).map_err(|e| open_err(e.to_string()))?;
        let db = open_db(&path).map_err(|e| open_err(e.to_string()))?;
        let tree = db
            .open_tree("journal")
            .map_err(|e| open_err(e.to_string()))?;
        let next = match tree.last().map_err(|e| open_err(e.to_string()))? {
            Some((k, _)) => key_seq(&k) + 1,
            None => 0,
        };
        let syncer = GroupSync::new(db, "journal-sync").map_err(|e| open_err(e.to_string()))?;
        Ok(SledStore {
            path,
            tree,
            next: AtomicU64::new(next),
            syncer,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn key_seq(k: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&k[..8.min(k.len())]);
    u64::from_be_bytes(b)
}

#[async_trait::async_trait]
impl StateStore for SledStore {
    fn append(&self, record: &Record) -> Result<u64, StoreError> {
        let seq = self.next.fetch_add(1, Ordering::SeqCst);
        let bytes = serde_json::to_vec(record).expect("plain data serializes");
        self.tree
            .insert(seq.to_be_bytes(), bytes)
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(seq)
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.syncer.sync().await.map_err(StoreError::Io)
    }

    fn records(&self) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::with_capacity(self.tree.len());
        for kv in self.tree.iter() {
            let (k, v) = kv.map_err(|e| StoreError::Io(e.to_string()))?;
            let seq = key_seq(&k);
            let r: Record = serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                seq,
                reason: e.to_string(),
            })?;
            out.push(r);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Event, Outcome, RECORD_VERSION};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_survive_reopening_in_order() {
        let d = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(d.path()).unwrap();
            for i in 0..100 {
                s.append(&Record {
                    v: RECORD_VERSION,
                    at_ms: i,
                    run: 1,
                    event: Event::RunFinished {
                        outcome: Outcome::Success,
                    },
                })
                .unwrap();
            }
            s.sync().await.unwrap();
        }
        let s = SledStore::open(d.path()).unwrap();
        let r = s.records().unwrap();
        assert_eq!(r.len(), 100);
        assert!(r.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
    }
}

//! The embedded state store: the journal in a sled database in the state directory
//! (`STATE/journal`). Keys are big-endian sequence numbers, values JSON records carrying their
//! format version.
//!
//! Durability is by group commit: `sync` callers queue on one background thread that runs a
//! single sled flush (an fsync) for everyone waiting, so a thousand tasks finishing at once
//! cost one disk sync, not a thousand.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};

use tokio::sync::oneshot;

use crate::state::{Record, StateStore, StoreError};

type Waiter = oneshot::Sender<Result<(), String>>;

/// Group commit for a sled database: `sync` callers queue on one background thread that runs
/// a single flush (an fsync) for everyone waiting.
pub struct GroupSync {
    // A std mutex around the sender: `mpsc::Sender` is Send but not Sync.
    tx: Mutex<Option<mpsc::Sender<Waiter>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GroupSync {
    pub fn new(db: sled::Db, name: &str) -> std::io::Result<GroupSync> {
        let (tx, rx) = mpsc::channel::<Waiter>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // Each round takes every waiter queued so far and syncs once for all of them.
                while let Ok(first) = rx.recv() {
                    let mut waiters = vec![first];
                    waiters.extend(rx.try_iter());
                    let r = db.flush().map(|_| ()).map_err(|e| e.to_string());
                    for w in waiters {
                        let _ = w.send(r.clone());
                    }
                }
            })?;
        Ok(GroupSync {
            tx: Mutex::new(Some(tx)),
            thread: Some(thread),
        })
    }

    /// Wait until everything written to the database before the call is on disk.
    pub async fn sync(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        let stopped = || "the sync thread stopped".to_string();
        self.tx
            .lock()
            .map_err(|_| stopped())?
            .as_ref()
            .ok_or_else(stopped)?
            .send(tx)
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

impl Drop for GroupSync {
    fn drop(&mut self) {
        // Stop the thread (it holds the database open), so the same process can open the
        // database again at once.
        if let Ok(mut s) = self.tx.lock() {
            s.take();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Open a sled database. A database this process just closed can still be locked for a moment
/// (sled's background threads let go of it asynchronously), so a lock error is retried
/// briefly; another process holding it still fails within about a second.
pub fn open_db(path: &Path) -> sled::Result<sled::Db> {
    let mut tries = 0;
    loop {
        match sled::Config::new()
            .path(path)
            .flush_every_ms(Some(1000))
            .open()
        {
            Err(e) if tries < 10 && e.to_string().contains("could not acquire lock") => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            r => return r,
        }
    }
}

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

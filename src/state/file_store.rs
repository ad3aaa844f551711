//! The embedded state store: the journal as a checksummed append-only log in the state
//! directory (`STATE/journal.log` and its head `STATE/journal.head`, `durable::Log`), records as
//! JSON carrying their format version. It replaced sled, which could not meet what the journal
//! must: sled locks its files against every other process (so `status` could not read a site
//! while an apply ran), spun forever on some corrupt files, and could not tell a truncated
//! database from an empty one.
//!
//! Readers (`read`) take no lock and never block the apply that writes; they see every record
//! written so far. Damage of any kind is an error naming the file, never an empty site.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::durable::{Log, LogError};
use crate::state::{Record, StateStore, StoreError};

/// The journal's files in a state directory, without extension.
pub fn base(state_dir: &Path) -> PathBuf {
    state_dir.join("journal")
}

impl From<LogError> for StoreError {
    fn from(e: LogError) -> StoreError {
        match e {
            LogError::Damaged { path, what } => StoreError::Damaged {
                path: path.display().to_string(),
                what,
            },
            LogError::Full(p) => StoreError::Full(p.display().to_string()),
            LogError::Io { path, source } => {
                StoreError::Io(format!("{}: {source}", path.display()))
            }
        }
    }
}

fn decode(raw: Vec<Vec<u8>>, path: &Path) -> Result<Vec<Record>, StoreError> {
    raw.into_iter()
        .enumerate()
        .map(|(seq, bytes)| {
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Damaged {
                path: path.display().to_string(),
                what: format!("record {seq} is not a journal record ({e})"),
            })
        })
        .collect()
}

pub struct FileStore {
    dir: PathBuf,
    log: Log,
    next: AtomicU64,
    opened: std::sync::Mutex<Option<Vec<Record>>>,
}

impl FileStore {
    /// Open (or create) the journal in `state_dir` for appending (the caller holds the site
    /// lock).
    pub fn open(state_dir: &Path) -> Result<FileStore, StoreError> {
        crate::state::create_dir(state_dir)?;
        let (log, raw) = Log::open(&base(state_dir))?;
        let records = decode(raw, log.path())?;
        Ok(FileStore {
            dir: state_dir.to_path_buf(),
            next: AtomicU64::new(records.len() as u64),
            opened: std::sync::Mutex::new(Some(records)),
            log,
        })
    }

    /// Every record of the journal in `state_dir`, without opening it for writing: `None` when
    /// there is no journal. Safe while an apply writes it.
    pub fn read(state_dir: &Path) -> Result<Option<Vec<Record>>, StoreError> {
        let b = base(state_dir);
        match crate::durable::read(&b)? {
            Some(c) => Ok(Some(decode(c.records, &b.with_extension("log"))?)),
            None => Ok(None),
        }
    }

    pub fn path(&self) -> &Path {
        self.log.path()
    }

    /// Record that the journal is complete up to here (the end of an apply).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        Ok(self.log.checkpoint()?)
    }
}

#[async_trait::async_trait]
impl StateStore for FileStore {
    fn append(&self, record: &Record) -> Result<u64, StoreError> {
        let seq = self.next.fetch_add(1, Ordering::SeqCst);
        let bytes = serde_json::to_vec(record).expect("plain data serializes");
        self.log.append(&bytes);
        Ok(seq)
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.log.sync().await.map_err(StoreError::Io)
    }

    fn records(&self) -> Result<Vec<Record>, StoreError> {
        // The records read at open, once (the common case: replayed right after opening);
        // afterwards what the file holds.
        if let Some(r) = self.opened.lock().expect("store lock").take() {
            return Ok(r);
        }
        self.log.flush()?;
        Ok(Self::read(&self.dir)?.unwrap_or_default())
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
            let s = FileStore::open(d.path()).unwrap();
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
        let s = FileStore::open(d.path()).unwrap();
        let r = s.records().unwrap();
        assert_eq!(r.len(), 100);
        assert!(r.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
        assert_eq!(FileStore::read(d.path()).unwrap().unwrap().len(), 100);
    }
}

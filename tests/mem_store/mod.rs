//! An in-memory journal for tests that run the executor in-process: it remembers how much of
//! it was synced, and a "crash" loses what was appended after the last sync, as a real store
//! may. Nothing else.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use drydock::state::{Record, StateStore, StoreError};

#[derive(Default)]
pub struct MemStore {
    pub records: Mutex<Vec<Record>>,
    pub synced: AtomicUsize,
}

impl MemStore {
    /// Lose every record appended after the last sync.
    pub fn crash(&self) {
        let keep = self.synced.load(Ordering::SeqCst);
        self.records.lock().unwrap().truncate(keep);
    }
}

#[async_trait::async_trait]
impl StateStore for MemStore {
    fn append(&self, r: &Record) -> Result<u64, StoreError> {
        let mut v = self.records.lock().unwrap();
        v.push(r.clone());
        Ok(v.len() as u64 - 1)
    }
    async fn sync(&self) -> Result<(), StoreError> {
        let n = self.records.lock().unwrap().len();
        self.synced.store(n, Ordering::SeqCst);
        Ok(())
    }
    fn records(&self) -> Result<Vec<Record>, StoreError> {
        Ok(self.records.lock().unwrap().clone())
    }
}

//! Durability helpers for sled databases, shared by the journal (`state::sled_store`) and the
//! simulator's world (`driver::sim::world`) so that neither reaches into the other: group commit
//! and opening a database this process just closed. Nothing here knows what is stored.

use std::path::Path;
use std::sync::{Mutex, mpsc};

use tokio::sync::oneshot;

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

//! A durable, checksummed, append-only record log in one file, shared by the journal
//! (`state::file_store`) and the simulator's world (`driver::sim::world`) so that neither
//! reaches into the other. Nothing here knows what the records mean.
//!
//! # Format
//! `NAME.log` starts with the line `drydock-log 1\n`; each record is a frame: a 4-byte
//! little-endian payload length, the first 8 bytes of the payload's SHA-256, the payload.
//! `NAME.head` (JSON, replaced atomically) says how long the log was, how many frames it had
//! and the checksum of the last one at the last checkpoint (the end of an apply).
//!
//! # Guarantees
//! - `append` buffers; `sync` makes every record appended before it durable (group commit: one
//!   thread writes and fsyncs for everyone waiting, so a thousand tasks finishing at once cost
//!   one disk sync).
//! - Reading never hangs and never lies: it is one linear pass over the file. A frame cut off
//!   at the end of the file (a crash between an append and its sync) is the only damage taken
//!   as normal, and only beyond the last checkpoint; a checksum mismatch anywhere else, a file
//!   shorter than its head says, a missing head or a bad header is [`LogError::Damaged`],
//!   naming the file and the offset.
//! - Readers need no lock and never block the writer: they read the prefix written so far.
//! - Files are created with mode 0600 (the journal holds BMC references and node data).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

const MAGIC: &[u8] = b"drydock-log 1\n";
const FRAME: usize = 12;
/// A frame longer than this is damage, not data.
const MAX_RECORD: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file is not what drydock wrote: corruption, truncation, a lost head.
    #[error("{path} is damaged: {what}")]
    Damaged { path: PathBuf, what: String },
    /// The disk is full.
    #[error("no space left on the device holding {0}")]
    Full(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl LogError {
    fn io(path: &Path, e: std::io::Error) -> LogError {
        if e.kind() == std::io::ErrorKind::StorageFull {
            LogError::Full(path.to_path_buf())
        } else {
            LogError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    }
}

/// The head: where the log stood at the last checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    v: u32,
    /// Bytes of the log covered.
    length: u64,
    frames: u64,
    /// Hex checksum of the last covered frame (empty when there is none).
    last: String,
}

fn checksum(payload: &[u8]) -> [u8; 8] {
    use sha2::Digest;
    let h = sha2::Sha256::digest(payload);
    let mut c = [0u8; 8];
    c.copy_from_slice(&h[..8]);
    c
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The paths of a log named `base` (`dir/journal` → `journal.log`, `journal.head`).
fn paths(base: &Path) -> (PathBuf, PathBuf) {
    (base.with_extension("log"), base.with_extension("head"))
}

/// What a read found.
pub struct Contents {
    pub records: Vec<Vec<u8>>,
    /// Bytes of complete, valid frames.
    valid: u64,
    /// Checksum of the last valid frame.
    last: [u8; 8],
}

/// Read the log named `base`: `None` when it does not exist (nor its head). Never modifies it.
pub fn read(base: &Path) -> Result<Option<Contents>, LogError> {
    let (log, head_path) = paths(base);
    let damaged = |what: String| LogError::Damaged {
        path: log.clone(),
        what,
    };
    // A new log writes its head first (no frames), then the file: a crash between the two
    // leaves a head without a log, or a log cut inside its header, and no record lost.
    let head: Option<Head> = match std::fs::read(&head_path) {
        Ok(h) => Some(serde_json::from_slice(&h).map_err(|e| LogError::Damaged {
            path: head_path.clone(),
            what: format!("not a log head ({e})"),
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(LogError::io(&head_path, e)),
    };
    let bytes = match std::fs::read(&log) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match head {
                Some(h) if h.frames > 0 => Err(damaged(format!(
                    "the file is missing, and {} says it held {} records",
                    head_path.display(),
                    h.frames
                ))),
                _ => Ok(None),
            };
        }
        Err(e) => return Err(LogError::io(&log, e)),
    };
    let Some(head) = head else {
        return Err(LogError::Damaged {
            path: head_path.clone(),
            what: format!("the file is missing (it goes with {})", log.display()),
        });
    };
    if head.frames == 0 && bytes.len() < MAGIC.len() && MAGIC.starts_with(&bytes) {
        return Ok(None);
    }
    if !bytes.starts_with(MAGIC) {
        return Err(damaged(
            "it does not start with drydock's log header".into(),
        ));
    }
    if (bytes.len() as u64) < head.length {
        return Err(damaged(format!(
            "it is {} bytes long, but {} bytes were written and synced (truncated)",
            bytes.len(),
            head.length
        )));
    }
    let mut at = MAGIC.len();
    let mut records = Vec::new();
    let mut last = [0u8; 8];
    while at < bytes.len() {
        let rest = &bytes[at..];
        let torn = |what: &str| -> Result<(), LogError> {
            // A cut-off last frame past the checkpoint is a crash between an append and its
            // sync: those records were never promised. Anywhere else it is damage.
            if (at as u64) < head.length {
                Err(damaged(format!("{what} at offset {at}")))
            } else {
                Ok(())
            }
        };
        if rest.len() < FRAME {
            torn("a frame header is cut off")?;
            break;
        }
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        if len > MAX_RECORD {
            return Err(damaged(format!(
                "a frame at offset {at} claims {len} bytes"
            )));
        }
        if rest.len() < FRAME + len {
            torn("a frame is cut off")?;
            break;
        }
        let payload = &rest[FRAME..FRAME + len];
        let sum = checksum(payload);
        if sum[..] != rest[4..FRAME] {
            // The last frame of the file, beyond the checkpoint, may be a torn write.
            if at + FRAME + len == bytes.len() && (at as u64) >= head.length {
                break;
            }
            return Err(damaged(format!(
                "the checksum of the frame at offset {at} does not match (flipped bytes)"
            )));
        }
        records.push(payload.to_vec());
        last = sum;
        at += FRAME + len;
        if at as u64 == head.length
            && (records.len() as u64 != head.frames || hex(&last) != head.last)
        {
            return Err(damaged(format!(
                "its first {} bytes are not the {} records its head recorded",
                head.length, head.frames
            )));
        }
    }
    if (records.len() as u64) < head.frames {
        return Err(damaged(format!(
            "it holds {} records, but {} were written and synced",
            records.len(),
            head.frames
        )));
    }
    Ok(Some(Contents {
        records,
        valid: at.min(bytes.len()) as u64,
        last,
    }))
}

type Waiter = oneshot::Sender<Result<(), String>>;

struct Shared {
    file: File,
    path: PathBuf,
    /// Appended, not yet written.
    buf: Mutex<Vec<u8>>,
    /// Bytes written to the file so far.
    written: Mutex<u64>,
}

impl Shared {
    /// Write what is buffered and fsync it.
    fn flush(&self) -> Result<(), LogError> {
        let mut w = self.written.lock().expect("log lock");
        let data = std::mem::take(&mut *self.buf.lock().expect("log lock"));
        if !data.is_empty() {
            (&self.file)
                .write_all(&data)
                .map_err(|e| LogError::io(&self.path, e))?;
            *w += data.len() as u64;
        }
        self.file
            .sync_data()
            .map_err(|e| LogError::io(&self.path, e))?;
        Ok(())
    }
}

/// An open log, for appending. One writer at a time (the site lock ensures it).
pub struct Log {
    shared: Arc<Shared>,
    head: PathBuf,
    /// Frames appended (counted at append, so checkpoints after a sync are exact).
    appended: Mutex<(u64, [u8; 8])>,
    tx: Mutex<Option<mpsc::Sender<Waiter>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Log {
    /// Open (or create) the log named `base` for appending, with what it holds. A frame cut
    /// off by a crash (beyond the last checkpoint) is dropped from the file.
    pub fn open(base: &Path) -> Result<(Log, Vec<Vec<u8>>), LogError> {
        let (path, head) = paths(base);
        let contents = read(base)?;
        if contents.is_none() {
            let empty = Head {
                v: 1,
                length: MAGIC.len() as u64,
                frames: 0,
                last: String::new(),
            };
            write_atomic(
                &head,
                &serde_json::to_vec(&empty).expect("plain data serializes"),
            )?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| LogError::io(&path, e))?;
        let (records, valid, last) = match contents {
            Some(c) => (c.records, c.valid, c.last),
            None => {
                file.set_len(0).map_err(|e| LogError::io(&path, e))?;
                file.write_all(MAGIC).map_err(|e| LogError::io(&path, e))?;
                (Vec::new(), MAGIC.len() as u64, [0u8; 8])
            }
        };
        // Drop a torn tail so new frames follow the last good one.
        file.set_len(valid).map_err(|e| LogError::io(&path, e))?;
        use std::io::Seek;
        file.seek(std::io::SeekFrom::End(0))
            .map_err(|e| LogError::io(&path, e))?;
        file.sync_all().map_err(|e| LogError::io(&path, e))?;
        let frames = records.len() as u64;
        let shared = Arc::new(Shared {
            file,
            path: path.clone(),
            buf: Mutex::new(Vec::new()),
            written: Mutex::new(valid),
        });
        let (tx, rx) = mpsc::channel::<Waiter>();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("log-sync".into())
            .spawn(move || {
                // Each round takes every waiter queued so far and syncs once for all of them.
                while let Ok(first) = rx.recv() {
                    let mut waiters = vec![first];
                    waiters.extend(rx.try_iter());
                    let r = s.flush().map_err(|e| e.to_string());
                    for w in waiters {
                        let _ = w.send(r.clone());
                    }
                }
            })
            .map_err(|e| LogError::io(&path, e))?;
        let log = Log {
            shared,
            head,
            appended: Mutex::new((frames, last)),
            tx: Mutex::new(Some(tx)),
            thread: Some(thread),
        };
        Ok((log, records))
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Append a record (durable after the next `sync`).
    pub fn append(&self, payload: &[u8]) {
        let sum = checksum(payload);
        let mut a = self.appended.lock().expect("log lock");
        let mut buf = self.shared.buf.lock().expect("log lock");
        buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        buf.extend_from_slice(&sum);
        buf.extend_from_slice(payload);
        a.0 += 1;
        a.1 = sum;
    }

    /// Write and fsync what is appended, on this thread.
    pub fn flush(&self) -> Result<(), LogError> {
        self.shared.flush()
    }

    /// Wait until every record appended before the call is on disk.
    pub async fn sync(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        let stopped = || "the log's sync thread stopped".to_string();
        self.tx
            .lock()
            .map_err(|_| stopped())?
            .as_ref()
            .ok_or_else(stopped)?
            .send(tx)
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Make everything appended durable (blocking), then record in the head that the log is
    /// complete up to here: a later read that finds less is told the log was damaged.
    pub fn checkpoint(&self) -> Result<(), LogError> {
        // Holding the append lock: no frame can slip in between the count and the length.
        let appended = self.appended.lock().expect("log lock");
        let (frames, last) = *appended;
        self.shared.flush()?;
        let length = *self.shared.written.lock().expect("log lock");
        let head = Head {
            v: 1,
            length,
            frames,
            last: if frames == 0 {
                String::new()
            } else {
                hex(&last)
            },
        };
        write_atomic(
            &self.head,
            &serde_json::to_vec(&head).expect("plain data serializes"),
        )?;
        drop(appended);
        Ok(())
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        // Stop the sync thread (it holds the file), so the same process can reopen at once.
        if let Ok(mut s) = self.tx.lock() {
            s.take();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Replace `path` with `bytes` atomically and durably (a temporary file, fsync, rename, fsync
/// of the directory), mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LogError> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let err = |e| LogError::io(path, e);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Copy the log named `base` to `to` (`to.log`, `to.head`) as it stands: every valid frame,
/// with a head covering them. Refuses a damaged log.
pub fn copy(base: &Path, to: &Path) -> Result<u64, LogError> {
    let Some(c) = read(base)? else { return Ok(0) };
    let (log, _) = paths(to);
    let mut bytes = Vec::with_capacity(c.valid as usize);
    let mut f = File::open(paths(base).0).map_err(|e| LogError::io(base, e))?;
    Read::by_ref(&mut f)
        .take(c.valid)
        .read_to_end(&mut bytes)
        .map_err(|e| LogError::io(base, e))?;
    write_atomic(&log, &bytes)?;
    let head = Head {
        v: 1,
        length: c.valid,
        frames: c.records.len() as u64,
        last: if c.records.is_empty() {
            String::new()
        } else {
            hex(&c.last)
        },
    };
    write_atomic(
        &paths(to).1,
        &serde_json::to_vec(&head).expect("plain data serializes"),
    )?;
    Ok(c.records.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn records_survive_reopening_and_a_torn_tail_is_dropped() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("j");
        {
            let (log, r) = Log::open(&base).unwrap();
            assert!(r.is_empty());
            for i in 0..100u32 {
                log.append(format!("record {i}").as_bytes());
            }
            rt().block_on(log.sync()).unwrap();
            log.checkpoint().unwrap();
            log.append(b"after the checkpoint");
            rt().block_on(log.sync()).unwrap();
        }
        // A crash mid-append: half a frame at the end.
        let mut f = OpenOptions::new()
            .append(true)
            .open(base.with_extension("log"))
            .unwrap();
        f.write_all(&[42, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(f);
        let (log, r) = Log::open(&base).unwrap();
        assert_eq!(r.len(), 101);
        assert_eq!(r[0], b"record 0");
        log.append(b"next");
        rt().block_on(log.sync()).unwrap();
        drop(log);
        assert_eq!(read(&base).unwrap().unwrap().records.len(), 102);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(base.with_extension("log"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn damage_before_the_checkpoint_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("j");
        let (log, _) = Log::open(&base).unwrap();
        for i in 0..10u32 {
            log.append(format!("record {i}").as_bytes());
        }
        log.checkpoint().unwrap();
        drop(log);
        let path = base.with_extension("log");
        let good = std::fs::read(&path).unwrap();
        // Truncated.
        std::fs::write(&path, &good[..good.len() - 3]).unwrap();
        assert!(matches!(read(&base), Err(LogError::Damaged { .. })));
        // A flipped byte in the last frame.
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 2] ^= 0x40;
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(read(&base), Err(LogError::Damaged { .. })));
        // The head lost.
        std::fs::write(&path, &good).unwrap();
        std::fs::remove_file(base.with_extension("head")).unwrap();
        let e = read(&base).err().unwrap().to_string();
        assert!(e.contains("missing"), "{e}");
    }
}

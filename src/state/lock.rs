//! The site lock: an apply holds a lease on the state directory (`STATE/lock`, a JSON file
//! naming the holder: pid, host, start time). A second apply fails at once with a message
//! naming the holder. A lock whose holder process is gone or a zombie (same host) is stale and
//! taken over; `drydock force-unlock` removes a stale lock, and refuses the lock of a holder
//! that is alive on this host unless forced.
//!
//! Taking the lock is atomic: the file is created with `create_new`, so of two processes racing
//! for a free lock exactly one wins. A stale lock is removed and the creation retried, so two
//! processes racing to take over a stale lock also end with one winner.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub started_ms: u64,
    pub command: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on {}, started {} ({})",
            self.pid,
            self.host,
            format_time(self.started_ms),
            self.command
        )
    }
}

/// UTC `YYYY-MM-DD HH:MM:SS` of a Unix time in milliseconds (no time-zone database needed).
pub fn format_time(ms: u64) -> String {
    let (y, m, d, rem) = civil(ms);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// RFC 3339 (`YYYY-MM-DDTHH:MM:SS.mmmZ`) of a Unix time in milliseconds, for JSON.
pub fn format_rfc3339(ms: u64) -> String {
    let (y, m, d, rem) = civil(ms);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Year, month, day and seconds into the day (UTC) of a Unix time in milliseconds.
fn civil(ms: u64) -> (i64, i64, i64, u64) {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y, m, d, rem)
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another drydock holds the site lock: {0}")]
    Held(Holder),
    /// `force-unlock` of a lock whose holder runs on this host.
    #[error("the site lock is held by a running process: {0}")]
    Live(Holder),
    #[error("cannot take the site lock {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct SiteLock {
    path: PathBuf,
    pub holder: Holder,
    /// Set when a stale lock was taken over: its holder.
    pub took_over: Option<Holder>,
}

impl Drop for SiteLock {
    fn drop(&mut self) {
        // Only remove the lock if it is still ours (force-unlock may have removed it and
        // another process taken it).
        if read(&self.path).is_some_and(|h| h == self.holder) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("lock")
}

fn read(p: &Path) -> Option<Holder> {
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

/// Whether a process with this pid runs on this machine (a zombie does not: it has exited and
/// only waits for its parent to read its status).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S ...`: the state follows the last `)` (comm may hold spaces or parens).
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

impl Holder {
    /// Whether the holder may still be running: alive on this host, or on another host (which
    /// drydock cannot see).
    pub fn may_run(&self) -> bool {
        self.host != hostname() || alive(self.pid)
    }
}

/// Take the site lock for `command`.
pub fn acquire(state_dir: &Path, command: &str) -> Result<SiteLock, LockError> {
    let p = path(state_dir);
    let err = |e| LockError::Io(p.clone(), e);
    crate::state::create_dir(state_dir)
        .map_err(|e| LockError::Io(p.clone(), std::io::Error::other(e.to_string())))?;
    let me = Holder {
        pid: std::process::id(),
        host: hostname(),
        started_ms: crate::state::now_ms(),
        command: command.into(),
    };
    let mut took_over = None;
    for _ in 0..3 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(mut f) => {
                f.write_all(&serde_json::to_vec(&me).expect("plain data serializes"))
                    .map_err(err)?;
                f.sync_all().map_err(err)?;
                return Ok(SiteLock {
                    path: p,
                    holder: me,
                    took_over,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                match read(&p) {
                    Some(h) if h.host == me.host && !alive(h.pid) => {
                        // Stale: its holder died. Remove it only if it is still that one.
                        if read(&p).as_ref() == Some(&h) {
                            let _ = std::fs::remove_file(&p);
                        }
                        took_over = Some(h);
                    }
                    Some(h) => return Err(LockError::Held(h)),
                    // Being written right now, or unreadable: treat as held by an unknown.
                    None => {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        if let Some(h) = read(&p) {
                            if h.host == me.host && !alive(h.pid) {
                                continue;
                            }
                            return Err(LockError::Held(h));
                        }
                        let _ = std::fs::remove_file(&p);
                    }
                }
            }
            Err(e) => return Err(err(e)),
        }
    }
    Err(LockError::Io(
        p,
        std::io::Error::other("the lock changed hands repeatedly while taking it"),
    ))
}

/// Remove the lock; returns the holder it removed. A holder alive on this host keeps its lock
/// unless `force`.
pub fn force_unlock(state_dir: &Path, force: bool) -> Result<Option<Holder>, LockError> {
    let p = path(state_dir);
    let h = read(&p);
    if let Some(h) = &h
        && !force
        && h.host == hostname()
        && alive(h.pid)
    {
        return Err(LockError::Live(h.clone()));
    }
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(h),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LockError::Io(p, e)),
    }
}

/// Who holds the lock, if anyone.
pub fn holder(state_dir: &Path) -> Option<Holder> {
    read(&path(state_dir))
}

/// The holder of the lock, if it may still be running (a stale lock says nothing).
pub fn live_holder(state_dir: &Path) -> Option<Holder> {
    holder(state_dir).filter(Holder::may_run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_fails_naming_the_holder_and_release_frees() {
        let d = tempfile::tempdir().unwrap();
        let l = acquire(d.path(), "apply").unwrap();
        match acquire(d.path(), "apply") {
            Err(LockError::Held(h)) => assert_eq!(h.pid, std::process::id()),
            other => panic!("{other:?}"),
        }
        drop(l);
        assert!(acquire(d.path(), "apply").is_ok());
    }

    #[test]
    fn a_dead_holders_lock_is_taken_over() {
        let d = tempfile::tempdir().unwrap();
        let dead = Holder {
            pid: u32::MAX - 1,
            host: hostname(),
            started_ms: 0,
            command: "apply".into(),
        };
        std::fs::write(d.path().join("lock"), serde_json::to_vec(&dead).unwrap()).unwrap();
        let l = acquire(d.path(), "apply").unwrap();
        assert_eq!(l.took_over, Some(dead));
    }

    #[test]
    fn time_format() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_795_305_600_000), "2026-11-22 00:00:00 UTC");
    }
}

//! The audit log: one JSON line per write request (who, what, when, the answer), appended to
//! a file private to its owner and repeated in the service's log. A token never reaches it:
//! only the name its entry in the tokens file gives. Refused writes (401, 403) are logged
//! too, with `who` empty for a request without a valid token.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The response header by which a handler tells the audit log which task a write concerns
/// (not sent on: the middleware reads it).
pub const TASK_HEADER: &str = "x-drydock-task";

pub struct Entry<'a> {
    pub who: Option<&'a str>,
    pub role: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub task: Option<&'a str>,
    pub remote: &'a str,
    /// The instance that forwarded the request (a follower), if any.
    pub forwarded_by: Option<&'a str>,
}

pub struct Audit {
    file: Option<(PathBuf, Mutex<std::fs::File>)>,
}

impl Audit {
    /// Append to `path` (created 0600), or only to the service's log with `None`.
    pub fn open(path: Option<&Path>) -> std::io::Result<Audit> {
        let file = match path {
            Some(p) => {
                use std::os::unix::fs::OpenOptionsExt;
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(p)?;
                Some((p.to_path_buf(), Mutex::new(f)))
            }
            None => None,
        };
        Ok(Audit { file })
    }

    pub fn write(&self, e: &Entry) {
        let at = crate::state::lock::format_rfc3339(crate::state::now_ms());
        let line = serde_json::json!({
            "at": at,
            "who": e.who,
            "role": e.role,
            "method": e.method,
            "path": e.path,
            "status": e.status,
            "task": e.task,
            "remote": e.remote,
            "forwarded_by": e.forwarded_by,
        });
        tracing::info!(target: "drydock::audit", who = e.who.unwrap_or("-"), method = e.method, path = e.path, status = e.status, task = e.task.unwrap_or("-"), remote = e.remote, "write");
        if let Some((path, f)) = &self.file {
            let mut f = f.lock().expect("audit lock");
            if let Err(err) = writeln!(f, "{line}").and_then(|_| f.sync_data()) {
                tracing::error!(file = %path.display(), error = %err, "cannot write the audit log");
            }
        }
    }
}

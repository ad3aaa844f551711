//! Finding the design files under the paths given: files as named, directories recursively,
//! `*.yaml` and `*.yml` only (dot-files and dot-directories skipped), sorted, each file once;
//! and reading one file safely: only a regular file, never more than the size limit. Reports
//! what it cannot read rather than skipping it silently.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Something met while walking that the user should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkIssue {
    /// A directory reached again through a symbolic link (a loop, or a second way in).
    SymlinkLoop(PathBuf),
    /// A directory or entry that could not be read.
    Unreadable(PathBuf, String),
    /// A design file that is not a regular file (a FIFO, a device, a socket): never opened.
    NotRegular(PathBuf, &'static str),
}

impl WalkIssue {
    /// Whether part of the design may be missing because of it (a symlink loop only skips a
    /// directory that is read anyway).
    pub fn loses_files(&self) -> bool {
        !matches!(self, WalkIssue::SymlinkLoop(_))
    }
}

/// What a non-regular file is, for messages.
pub fn file_type_name(m: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if m.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("{0}: no such file or directory")]
    Missing(PathBuf),
    #[error("{0}: cannot be read: {1}")]
    Unreadable(PathBuf, String),
}

/// Every design file under `paths`, in a deterministic order: each path's files sorted by path.
pub fn discover(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<WalkIssue>), PathError> {
    let mut files = Vec::new();
    let mut issues = Vec::new();
    let mut seen_dirs = HashSet::new();
    let mut seen_files = HashSet::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PathError::Missing(p.clone()),
            _ => PathError::Unreadable(p.clone(), e.to_string()),
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut seen_dirs, &mut found, &mut issues);
            found.sort();
            for f in found {
                if seen_files.insert(canonical(&f)) {
                    files.push(f);
                }
            }
        } else if !meta.is_file() {
            issues.push(WalkIssue::NotRegular(p.clone(), file_type_name(&meta)));
        } else if seen_files.insert(canonical(p)) {
            // A file named on the command line is read whatever its extension.
            files.push(p.clone());
        }
    }
    Ok((files, issues))
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// Larger than the limit (bytes seen, which may be the limit plus one when the size was
    /// only found while reading).
    TooLarge(u64),
    NotRegular(&'static str),
    Io(std::io::Error),
}

/// Read a design file: only a regular file, opened without blocking (a FIFO put in its place
/// after the walk cannot hang the read), and never more than `limit` bytes, checked on the
/// size first and enforced while reading (a file that grows, or a size that lies, cannot make
/// the process eat memory).
pub fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(file_type_name(&meta)));
    }
    if meta.len() > limit as u64 {
        return Err(ReadError::TooLarge(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() > limit {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

fn walk(
    dir: &Path,
    seen: &mut HashSet<PathBuf>,
    found: &mut Vec<PathBuf>,
    issues: &mut Vec<WalkIssue>,
) {
    // Directories are identified by their canonical path, so a symlink back up the tree is
    // entered once and reported instead of followed forever.
    if !seen.insert(canonical(dir)) {
        issues.push(WalkIssue::SymlinkLoop(dir.to_path_buf()));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            issues.push(WalkIssue::Unreadable(dir.to_path_buf(), e.to_string()));
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        // Hidden files and directories (.git, .ci, editor files) hold no design.
        if is_hidden(&p) {
            continue;
        }
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, seen, found, issues),
            Ok(m) if is_yaml(&p) && m.is_file() => found.push(p),
            Ok(m) if is_yaml(&p) => issues.push(WalkIssue::NotRegular(p, file_type_name(&m))),
            Ok(_) => {}
            Err(e) if is_yaml(&p) => issues.push(WalkIssue::Unreadable(p.clone(), e.to_string())),
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_recursive_and_loop_safe() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("b/c")).unwrap();
        std::fs::write(r.join("b/c/z.yml"), "").unwrap();
        std::fs::write(r.join("a.yaml"), "").unwrap();
        std::fs::write(r.join("b/readme.md"), "").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(r, r.join("b/loop")).unwrap();
        let (files, issues) = discover(&[r.to_path_buf()]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(r).unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["a.yaml", "b/c/z.yml"]);
        #[cfg(unix)]
        assert!(matches!(&issues[..], [WalkIssue::SymlinkLoop(_)]));
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_never_opened() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("x.yaml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        std::os::unix::fs::symlink("/dev/zero", d.path().join("z.yaml")).unwrap();
        let (files, issues) = discover(&[d.path().to_path_buf()]).unwrap();
        assert!(files.is_empty());
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert!(
            issues
                .iter()
                .all(|i| matches!(i, WalkIssue::NotRegular(..)))
        );
        // Named directly, and read directly: refused, not blocked on.
        assert!(matches!(
            read_limited(&fifo, 100),
            Err(ReadError::NotRegular(_))
        ));
        assert!(matches!(
            read_limited(&d.path().join("z.yaml"), 100),
            Err(ReadError::NotRegular(_))
        ));
    }

    #[test]
    fn the_size_limit_holds() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.yaml");
        std::fs::write(&f, "a: 1\n").unwrap();
        assert!(matches!(read_limited(&f, 4), Err(ReadError::TooLarge(5))));
        assert_eq!(read_limited(&f, 5).unwrap(), b"a: 1\n");
    }

    #[test]
    fn missing_path_is_an_error() {
        assert!(matches!(
            discover(&["/nonexistent/x".into()]),
            Err(PathError::Missing(_))
        ));
    }
}

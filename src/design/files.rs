//! Finding the design files under the paths given: files as named, directories recursively,
//! `*.yaml` and `*.yml` only, sorted, each file once. Reads no file contents.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Something met while walking that the user should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkIssue {
    /// A directory reached again through a symbolic link (a loop, or a second way in).
    SymlinkLoop(PathBuf),
    /// A directory or entry that could not be read.
    Unreadable(PathBuf, String),
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
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => {
                // Hidden directories (.git, .ci) hold no design.
                if !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
                {
                    walk(&p, seen, found, issues);
                }
            }
            Ok(_) if is_yaml(&p) => found.push(p),
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

    #[test]
    fn missing_path_is_an_error() {
        assert!(matches!(
            discover(&["/nonexistent/x".into()]),
            Err(PathError::Missing(_))
        ));
    }
}

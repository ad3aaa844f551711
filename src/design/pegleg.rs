//! Pegleg site collection: which files of an Airship repository make up one site. A site is
//! `site/<name>/site-definition.yaml` (a `pegleg/SiteDefinition/v1`, whose `site_type` names
//! the type); its files are every `*.yaml` under `global/`, `type/<type>/` and `site/<name>/`,
//! or, in the 2018 layout (`revision` set), under `global/common`, `global/<rev>`,
//! `type/<type>/common`, `type/<type>/<rev>` and `site/<name>`. Dot-files, dot-directories and
//! `tools/` directories are skipped. This module only finds files; reading them is `design`'s.

use std::path::{Path, PathBuf};

use crate::design::files::{self, WalkIssue};
use crate::design::yaml;
use crate::source::FileId;

/// A site chosen in a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The repository root (the directory holding `site/`).
    pub root: PathBuf,
    pub name: String,
    pub site_type: Option<String>,
    pub revision: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SiteError {
    #[error("{root}: the repository holds several sites ({})", .sites.join(", "))]
    Several { root: PathBuf, sites: Vec<String> },
    #[error("{root}: no site `{name}` (the sites are: {})", .sites.join(", "))]
    Unknown {
        root: PathBuf,
        name: String,
        sites: Vec<String>,
    },
    #[error(
        "{0}: not inside an Airship repository (no `site/<name>/site-definition.yaml` here or above)"
    )]
    NoRepository(PathBuf),
    #[error("`--site` takes one repository path, not {0}")]
    ManyPaths(usize),
}

fn definition(root: &Path, site: &str) -> PathBuf {
    root.join("site").join(site).join("site-definition.yaml")
}

/// The sites of a repository root, sorted.
pub fn sites(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root.join("site"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| !n.starts_with('.') && definition(root, n).is_file())
        .collect();
    out.sort();
    out
}

/// The repository root at or above `path`, and the site `path` is inside, if any.
fn find_root(path: &Path) -> Option<(PathBuf, Option<String>)> {
    let abs = std::fs::canonicalize(path).ok()?;
    let mut inside: Option<String> = None;
    let mut prev: Option<&Path> = None;
    for dir in abs.ancestors() {
        if dir.file_name().is_some_and(|n| n == "site")
            && let (Some(parent), Some(child)) = (dir.parent(), prev)
            && let Some(name) = child.file_name().and_then(|n| n.to_str())
            && definition(parent, name).is_file()
        {
            inside = Some(name.to_string());
            return Some((parent.to_path_buf(), inside));
        }
        // Only the path itself may be a repository root: a directory above it that happens
        // to hold a `site/` is not the design the user named.
        if prev.is_none() && dir.is_dir() && !sites(dir).is_empty() {
            return Some((dir.to_path_buf(), inside));
        }
        prev = Some(dir);
    }
    None
}

/// Which site `paths` mean: `Ok(None)` for a plain design (not a repository). `site` is the
/// `--site` given; without it a path inside `site/<name>/` implies that site, and a repository
/// root with one site means that site.
pub fn choose(paths: &[PathBuf], site: Option<&str>) -> Result<Option<Site>, SiteError> {
    if paths.len() != 1 {
        return match site {
            Some(_) => Err(SiteError::ManyPaths(paths.len())),
            None => Ok(None),
        };
    }
    let path = &paths[0];
    let Some((root, inside)) = find_root(path) else {
        return match site {
            Some(_) => Err(SiteError::NoRepository(path.clone())),
            None => Ok(None),
        };
    };
    let all = sites(&root);
    // A path given relative stays relative in findings: rebuild the root from it.
    let shown_root = relative_root(path, &root);
    let name = match (site, inside) {
        (Some(s), _) => {
            if !all.iter().any(|x| x == s) {
                return Err(SiteError::Unknown {
                    root: shown_root,
                    name: s.to_string(),
                    sites: all,
                });
            }
            s.to_string()
        }
        (None, Some(s)) => s,
        (None, None) => match all.as_slice() {
            [one] => one.clone(),
            _ => {
                return Err(SiteError::Several {
                    root: shown_root,
                    sites: all,
                });
            }
        },
    };
    let (site_type, revision) = read_definition(&definition(&root, &name));
    Ok(Some(Site {
        root: shown_root,
        name,
        site_type,
        revision,
    }))
}

/// `root` as reached from `path` with `..`, when `path` is relative (so that findings show
/// paths as the user wrote them); `root` itself otherwise.
fn relative_root(path: &Path, root: &Path) -> PathBuf {
    if path.is_absolute() {
        return root.to_path_buf();
    }
    // From a file, `..` starts at its directory.
    let base = if path.is_file() {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        path.to_path_buf()
    };
    let Ok(abs) = std::fs::canonicalize(if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &base
    }) else {
        return root.to_path_buf();
    };
    let mut up = base;
    let mut cur = abs.as_path();
    while cur != root {
        match cur.parent() {
            Some(p) => {
                up.push("..");
                cur = p;
            }
            None => return root.to_path_buf(),
        }
    }
    normalize(&up)
}

/// `a/b/../..` → `.`; `a/../../x` → `../x`: lexical, on a path known to exist.
fn normalize(p: &Path) -> PathBuf {
    let mut out: Vec<std::path::Component> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir
                if matches!(out.last(), Some(std::path::Component::Normal(_))) =>
            {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

/// `site_type` and `revision` of a site definition.
fn read_definition(path: &Path) -> (Option<String>, Option<String>) {
    let Ok(bytes) = files::read_limited(path, yaml::MAX_FILE_BYTES) else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(&bytes);
    let Ok(docs) = yaml::parse_documents(FileId(0), &text) else {
        return (None, None);
    };
    let def = docs
        .iter()
        .find(|d| d.get("schema").and_then(|s| s.as_str()) == Some("pegleg/SiteDefinition/v1"));
    let field = |k: &str| {
        def.and_then(|d| d.at(&["data", k]))
            .and_then(|v| v.scalar_text())
    };
    (field("site_type"), field("revision"))
}

/// The directories a site reads, in order.
pub fn layers(site: &Site) -> Vec<PathBuf> {
    let r = &site.root;
    let mut dirs = Vec::new();
    match &site.revision {
        Some(rev) => {
            dirs.push(r.join("global").join("common"));
            dirs.push(r.join("global").join(rev));
            if let Some(t) = &site.site_type {
                dirs.push(r.join("type").join(t).join("common"));
                dirs.push(r.join("type").join(t).join(rev));
            }
        }
        None => {
            dirs.push(r.join("global"));
            if let Some(t) = &site.site_type {
                dirs.push(r.join("type").join(t));
            }
        }
    }
    dirs.push(r.join("site").join(&site.name));
    dirs
}

/// Every file of the site, layer by layer, each sorted; `tools/` directories left out.
pub fn collect(site: &Site) -> (Vec<PathBuf>, Vec<WalkIssue>) {
    let dirs: Vec<PathBuf> = layers(site).into_iter().filter(|d| d.is_dir()).collect();
    let mut files = Vec::new();
    let mut issues = Vec::new();
    for d in dirs {
        if let Ok((f, i)) = files::discover(std::slice::from_ref(&d)) {
            files.extend(f.into_iter().filter(|p| !in_tools(p, &d)));
            issues.extend(i);
        }
    }
    (files, issues)
}

fn in_tools(p: &Path, base: &Path) -> bool {
    p.strip_prefix(base)
        .unwrap_or(p)
        .components()
        .any(|c| c.as_os_str() == "tools")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(layout: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, text) in layout {
            let path = d.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        d
    }

    const DEF: &str =
        "schema: pegleg/SiteDefinition/v1\nmetadata: {name: NAME}\ndata: {site_type: foundry}\n";

    #[test]
    fn current_layout_reads_global_type_and_site() {
        let d = repo(&[
            ("site/a/site-definition.yaml", &DEF.replace("NAME", "a")),
            ("site/a/networks/n.yaml", ""),
            ("site/b/site-definition.yaml", &DEF.replace("NAME", "b")),
            ("global/x.yaml", ""),
            ("global/tools/t.yaml", ""),
            ("global/.hidden.yaml", ""),
            ("type/foundry/y.yaml", ""),
            ("type/other/z.yaml", ""),
        ]);
        let root = d.path().to_path_buf();
        assert!(matches!(
            choose(std::slice::from_ref(&root), None),
            Err(SiteError::Several { sites, .. }) if sites == ["a", "b"]
        ));
        let s = choose(std::slice::from_ref(&root), Some("a"))
            .unwrap()
            .unwrap();
        assert_eq!(s.site_type.as_deref(), Some("foundry"));
        let (files, _) = collect(&s);
        let names: Vec<String> = files
            .iter()
            .map(|f| {
                f.strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "global/x.yaml",
                "type/foundry/y.yaml",
                "site/a/networks/n.yaml",
                "site/a/site-definition.yaml"
            ]
        );
        // A path inside site/b implies --site b.
        let inside = root.join("site/b");
        assert_eq!(choose(&[inside], None).unwrap().unwrap().name, "b");
        assert!(matches!(
            choose(std::slice::from_ref(&root), Some("c")),
            Err(SiteError::Unknown { .. })
        ));
    }

    #[test]
    fn layout_2018_reads_common_and_the_revision() {
        let def = "schema: pegleg/SiteDefinition/v1\nmetadata: {name: s}\ndata: {site_type: cicd, revision: v1.0}\n";
        let d = repo(&[
            ("site/s/site-definition.yaml", def),
            ("global/common/a.yaml", ""),
            ("global/v1.0/b.yaml", ""),
            ("global/v2.0/skip.yaml", ""),
            ("type/cicd/common/c.yaml", ""),
            ("type/cicd/v1.0/d.yaml", ""),
        ]);
        let s = choose(&[d.path().to_path_buf()], None).unwrap().unwrap();
        let (files, _) = collect(&s);
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "a.yaml",
                "b.yaml",
                "c.yaml",
                "d.yaml",
                "site-definition.yaml"
            ]
        );
    }

    #[test]
    fn a_plain_directory_is_not_a_repository() {
        let d = repo(&[("a.yaml", "")]);
        assert_eq!(choose(&[d.path().to_path_buf()], None), Ok(None));
        assert!(matches!(
            choose(&[d.path().to_path_buf()], Some("x")),
            Err(SiteError::NoRepository(_))
        ));
    }
}

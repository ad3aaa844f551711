//! Loading a design: files → YAML trees → drydock documents, each checked against its kind's
//! JSON Schema. Produces every document with its location and the findings of DD000 (parse)
//! and DD001 (schema). It resolves nothing across documents: that is `model`.

pub mod document;
pub mod files;
pub mod pegleg;
pub mod render;
pub mod schema;
pub mod yaml;

use std::path::{Path, PathBuf};

pub use document::{DocId, Document, Form, Kind};
pub use files::PathError;

use crate::design::yaml::Node;
use crate::diag::Finding;
use crate::source::{FileId, Loc, SourceFile, SourceMap};

/// A loaded design: the text of every file and every drydock document in it.
#[derive(Debug, Default)]
pub struct Design {
    pub sources: SourceMap,
    /// Drydock documents in file order, then document order. Values that failed their schema
    /// are removed from `data`; a document whose top level failed is here with
    /// `schema_valid == false`.
    pub documents: Vec<Document>,
    /// Documents of other tools (`pegleg/…`, `deckhand/…`), skipped.
    pub foreign: usize,
    /// DD000 and DD001 findings.
    pub findings: Vec<Finding>,
    /// Where secret values (literal credentials) are written: renderers mask them.
    pub secrets: Vec<Loc>,
    /// Files and directories of the design that could not be read (each also an error
    /// finding): the design may be missing parts, and nothing should act on it.
    pub unread: Vec<PathBuf>,
    /// What rendering did, when the documents were layered (Deckhand): where each value came
    /// from. `None` for a plain design.
    pub provenance: Option<render::Provenance>,
    /// The site collected from an Airship repository, when the design is one.
    pub site: Option<pegleg::Site>,
    /// Every document (of any tool) as rendered, before schema checks, when
    /// `LoadOptions::keep_rendered`.
    pub rendered: Vec<render::Raw>,
    /// BaremetalNode documents by name, built on first use (renderers look up the nodes of
    /// every finding: a scan each made 100,000 findings quadratic).
    nodes: std::sync::OnceLock<std::collections::HashMap<String, usize>>,
}

impl Design {
    /// A hash of every file's path and content: a plan records it, and apply refuses a plan
    /// made from another design. Paths count relative to the directory that holds them all, so
    /// the same design named from elsewhere (`designs/demo`, `/repo/designs/demo`) hashes the
    /// same.
    pub fn content_hash(&self) -> String {
        let dirs: Vec<&Path> = self
            .sources
            .files()
            .map(|(_, f)| f.path.parent().unwrap_or(Path::new("")))
            .collect();
        let common: Vec<std::path::Component> = dirs.first().map_or(Vec::new(), |first| {
            let mut c: Vec<_> = first.components().collect();
            for d in &dirs[1..] {
                let n = c
                    .iter()
                    .zip(d.components())
                    .take_while(|(a, b)| *a == b)
                    .count();
                c.truncate(n);
            }
            c
        });
        let mut bytes = Vec::new();
        for (_, f) in self.sources.files() {
            let rel: std::path::PathBuf = f.path.components().skip(common.len()).collect();
            bytes.extend_from_slice(rel.to_string_lossy().as_bytes());
            bytes.push(0);
            bytes.extend_from_slice(&(f.text.len() as u64).to_le_bytes());
            bytes.extend_from_slice(f.text.as_bytes());
        }
        crate::source::digest(&bytes)
    }

    /// Whether a value came from the secret store (a `deckhand/Passphrase/v1` or another
    /// secret document substituted into the design) rather than being written in it.
    pub fn from_secret_store(&self, loc: Loc) -> bool {
        self.provenance.as_ref().is_some_and(|p| p.is_secret(loc))
    }

    /// Add to a finding how its value arrived through layering and substitution.
    pub fn annotate(&self, f: &mut Finding) {
        if let Some(p) = &self.provenance {
            p.annotate(f);
        }
    }

    /// The BaremetalNode document of a node name (the first, when there are several).
    pub fn node_document(&self, name: &str) -> Option<&Document> {
        let index = self.nodes.get_or_init(|| {
            let mut m = std::collections::HashMap::new();
            for (i, d) in self.documents.iter().enumerate() {
                if d.kind == Kind::BaremetalNode {
                    m.entry(d.name.v.clone()).or_insert(i);
                }
            }
            m
        });
        index.get(name).map(|&i| &self.documents[i])
    }

    /// Whether every file and directory of the design could be read.
    pub fn is_complete(&self) -> bool {
        self.unread.is_empty()
    }

    /// The document whose text contains `loc`, if any.
    pub fn document_at(&self, loc: Loc) -> Option<&Document> {
        if loc.is_none() {
            return None;
        }
        // Documents are sorted by (file, start): binary search.
        let i = self
            .documents
            .partition_point(|d| (d.span.file, d.span.start) <= (loc.file, loc.start));
        let d = self.documents.get(i.checked_sub(1)?)?;
        (d.span.file == loc.file && loc.start < d.span.start + d.span.len.max(1)).then_some(d)
    }
}

/// Why a design could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    Site(#[from] pegleg::SiteError),
}

/// Load every design file under `paths`. Fails only when a path does not exist, no design
/// file is found, or the paths name an Airship repository without saying which site; every
/// problem inside a file is a finding. A path inside `site/<name>/` of a repository (or a
/// repository root with one site) loads that site's layers (see [`pegleg`]).
pub fn load(paths: &[PathBuf]) -> Result<Design, LoadError> {
    load_with(paths, &LoadOptions::default())
}

/// [`load`] with options: the site to collect (`--site`), the rendering mode (`--strict`).
pub fn load_with(paths: &[PathBuf], options: &LoadOptions) -> Result<Design, LoadError> {
    let (files, issues) = match pegleg::choose(paths, options.site.as_deref())? {
        Some(site) => {
            for p in paths {
                if !p.exists() {
                    return Err(PathError::Missing(p.clone()).into());
                }
            }
            let (files, issues) = pegleg::collect(&site);
            let mut design = load_files(files, issues, options)?;
            design.site = Some(site);
            return Ok(design);
        }
        None => files::discover(paths)?,
    };
    Ok(load_files(files, issues, options)?)
}

/// Load the files found (and report the walk's issues).
pub fn load_files(
    files: Vec<PathBuf>,
    issues: Vec<files::WalkIssue>,
    options: &LoadOptions,
) -> Result<Design, PathError> {
    let mut design = Design::default();
    for issue in issues {
        let loses = issue.loses_files();
        let (path, msg, help) = match issue {
            files::WalkIssue::SymlinkLoop(p) => (
                p,
                "directory reached again through a symbolic link: skipped".to_string(),
                "this is a symlink loop or a second link to a directory already read; remove the link",
            ),
            files::WalkIssue::Unreadable(p, e) => (
                p,
                format!("cannot be read: {e}; the design may be missing documents"),
                "give drydock read permission on it (or remove it from the design)",
            ),
            files::WalkIssue::NotRegular(p, what) => (
                p,
                format!(
                    "is {what}, not a regular file: not read; the design may be missing documents"
                ),
                "design files must be regular files: replace it with one, or remove it",
            ),
        };
        if loses {
            design.unread.push(path.clone());
        }
        let id = design.sources.add(SourceFile::new(path, String::new()));
        let loc = Loc::new(id, 0, 0);
        let f = if loses {
            Finding::error("DD000", loc, msg)
        } else {
            Finding::warning("DD000", loc, msg)
        };
        design.findings.push(f.help(help));
    }
    let mut texts = Vec::with_capacity(files.len());
    for path in files {
        let (text, finding) = read(&path);
        let unreadable = finding.as_ref().is_some_and(|p| p.3);
        if unreadable {
            design.unread.push(path.clone());
        }
        let id = design.sources.add(SourceFile::new(path, text));
        if let Some((msg, help, offset, sev_error)) = finding {
            let loc = Loc::new(id, offset, 0);
            let f = if sev_error {
                Finding::error("DD000", loc, msg)
            } else {
                Finding::warning("DD000", loc, msg)
            };
            design.findings.push(f.help(help));
            if sev_error {
                continue;
            }
        }
        texts.push(id);
    }
    parse_all(&mut design, &texts, options);
    Ok(design)
}

/// Load a design from text (tests, and `-` for standard input).
pub fn load_str(name: &str, text: &str) -> Design {
    load_str_with(name, text, &LoadOptions::default())
}

/// [`load_str`] with options.
pub fn load_str_with(name: &str, text: &str, options: &LoadOptions) -> Design {
    let mut design = Design::default();
    let id = design
        .sources
        .add(SourceFile::new(PathBuf::from(name), text.to_string()));
    parse_all(&mut design, &[id], options);
    design
}

type ReadProblem = (String, &'static str, usize, bool);

/// Read a file as UTF-8 text; on failure the text is what can be shown and the problem says why.
fn read(path: &Path) -> (String, Option<ReadProblem>) {
    let problem = |msg: String, help: &'static str| (String::new(), Some((msg, help, 0, true)));
    let bytes = match files::read_limited(path, yaml::MAX_FILE_BYTES) {
        Ok(b) => b,
        Err(files::ReadError::TooLarge(n)) => {
            return problem(
                format!(
                    "file is {:.0} MB or more; drydock reads design files of up to 64 MiB",
                    n as f64 / 1e6
                ),
                "split the design into several files (a directory is read recursively)",
            );
        }
        Err(files::ReadError::NotRegular(what)) => {
            return problem(
                format!("is {what}, not a regular file: not read"),
                "design files must be regular files: replace it with one, or remove it",
            );
        }
        Err(files::ReadError::Io(e)) => {
            return problem(
                format!("cannot be read: {e}"),
                "check the path and its permissions",
            );
        }
    };
    if bytes.is_empty() {
        return (
            String::new(),
            Some((
                "empty file: it holds no documents".into(),
                "remove the file, or add documents to it",
                0,
                false,
            )),
        );
    }
    if let Some(i) = bytes.iter().take(64 * 1024).position(|&b| b == 0) {
        let text = String::from_utf8_lossy(&bytes[..i.min(4096)]).into_owned();
        return (
            text,
            Some((
                "binary file (it contains NUL bytes), not YAML".into(),
                "remove it from the design directory",
                0,
                true,
            )),
        );
    }
    match String::from_utf8(bytes) {
        Ok(t) => (t, None),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // The lossy text has the same bytes up to the first invalid one.
            (
                text,
                Some((
                    "file is not valid UTF-8".into(),
                    "save the file as UTF-8",
                    at,
                    true,
                )),
            )
        }
    }
}

/// How to load.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// The site to collect from an Airship repository (`--site`).
    pub site: Option<String>,
    /// The rendering mode (`--strict`).
    pub mode: render::Mode,
    /// Keep the rendered documents as YAML trees in `Design::rendered` (`drydock render`).
    pub keep_rendered: bool,
}

/// What parsing one piece of a file gave.
struct Parsed {
    file: FileId,
    roots: Vec<Node>,
    findings: Vec<Finding>,
    secrets: Vec<Loc>,
    error: bool,
}

/// What classifying a run of documents gave.
#[derive(Default)]
struct Classified {
    documents: Vec<Document>,
    findings: Vec<Finding>,
    foreign: usize,
}

/// Run `f` on every item on every core; results in item order, so output is deterministic.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len())
        .max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                std::thread::Builder::new()
                    .spawn_scoped(s, || {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(item) = items.get(i) else { break };
                            mine.push((i, f(item)));
                        }
                        mine
                    })
                    .expect("spawning a loader thread")
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Parse every file (big ones in pieces split at document boundaries, in parallel), render
/// when the documents are layered, then classify and schema-check every document (again in
/// parallel). Results are merged in file order.
fn parse_all(design: &mut Design, ids: &[FileId], options: &LoadOptions) {
    let sources = &design.sources;
    let mut pieces: Vec<(FileId, usize, usize)> = Vec::new();
    for &id in ids {
        let text = &sources.get(id).expect("file id from this map").text;
        for (start, end) in yaml::split_documents(text, PIECE_BYTES) {
            pieces.push((id, start, end));
        }
    }
    let parsed = parallel(&pieces, |&(id, start, end)| {
        let text = &sources.get(id).expect("file id from this map").text;
        parse_piece(id, text, start, end)
    });
    // Merge the pieces of each file; a syntax error anywhere in a file drops all its documents.
    let mut raws: Vec<render::Raw> = Vec::new();
    let mut parsed = parsed.into_iter().peekable();
    while let Some(first) = parsed.next() {
        let file = first.file;
        let mut group = vec![first];
        while let Some(p) = parsed.next_if(|p| p.file == file) {
            group.push(p);
        }
        let text = &sources.get(file).expect("file id from this map").text;
        if let Some(bad) = group.iter_mut().find(|p| p.error) {
            design.findings.append(&mut bad.findings);
            continue;
        }
        let mut roots = Vec::new();
        for p in group {
            design.findings.extend(p.findings);
            design.secrets.extend(p.secrets);
            roots.extend(p.roots);
        }
        if roots.is_empty() && !text.trim().is_empty() {
            design.findings.push(
                Finding::warning("DD000", Loc::new(file, 0, 0), "file holds no documents")
                    .help("remove the file, or add documents to it"),
            );
        }
        let starts: Vec<usize> = roots.iter().map(|n| n.loc.start as usize).collect();
        for (k, root) in roots.into_iter().enumerate() {
            let start = starts[k];
            let end = starts.get(k + 1).copied().unwrap_or(text.len());
            raws.push(render::Raw {
                root,
                span: Loc::new(file, start, end.saturating_sub(start)),
            });
        }
    }
    if render::needed(&raws) && render::changes_anything(&raws) {
        let out = render::render(raws, options.mode);
        design.findings.extend(out.findings);
        design
            .secrets
            .extend(out.provenance.secret_spans.iter().copied());
        raws = out.docs;
        design.provenance = Some(out.provenance);
    }
    if options.keep_rendered {
        design.rendered = raws.clone();
    }
    // Classify in runs of documents, one per worker.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let run = raws.len().div_ceil(threads * 4).max(64);
    let mut runs: Vec<Vec<render::Raw>> = Vec::new();
    let mut it = raws.into_iter().peekable();
    while it.peek().is_some() {
        runs.push(it.by_ref().take(run).collect());
    }
    let runs: Vec<std::sync::Mutex<Vec<render::Raw>>> =
        runs.into_iter().map(std::sync::Mutex::new).collect();
    let classified = parallel(&runs, |r| {
        let docs = std::mem::take(&mut *r.lock().unwrap_or_else(|e| e.into_inner()));
        classify_run(docs)
    });
    for c in classified {
        design.documents.extend(c.documents);
        design.findings.extend(c.findings);
        design.foreign += c.foreign;
    }
}

/// Pieces of a big file hold at least this much text: smaller files are one piece.
const PIECE_BYTES: usize = 256 * 1024;

fn parse_piece(file: FileId, text: &str, start: usize, end: usize) -> Parsed {
    let mut p = Parsed {
        file,
        roots: Vec::new(),
        findings: Vec::new(),
        secrets: Vec::new(),
        error: false,
    };
    match yaml::parse_documents_at(file, &text[start..end], start) {
        Ok(roots) => {
            for root in &roots {
                document::lint(root, text, &mut p.findings);
                document::secrets(root, &mut p.secrets);
            }
            p.roots = roots;
        }
        Err(e) => {
            p.error = true;
            let (message, loc, help) = yaml::explain(text, file, &e);
            let mut f = Finding::error("DD000", loc, message)
                .help(format!("{help}; no document of this file was read"));
            if loc != e.loc {
                f = f.related(e.loc, "where the YAML parser stopped");
            }
            p.findings.push(f);
        }
    }
    p
}

fn classify_run(raws: Vec<render::Raw>) -> Classified {
    let mut r = Classified::default();
    for raw in raws {
        let (mut root, span) = (raw.root, raw.span);
        match document::classify(&root, span, &mut r.findings) {
            document::Classified::Drydock(mut d) => {
                let key = match d.form {
                    Form::Envelope => "data",
                    Form::Legacy => "spec",
                };
                if let (yaml::Value::Map(m), true) = (&mut root.value, d.data.is_null()) {
                    d.data = m.take(key).unwrap_or(d.data);
                }
                d.schema_valid =
                    schema::check(d.kind, &d.name.v, &mut d.data, key, &mut r.findings)
                        != schema::Verdict::LeftOut;
                r.documents.push(*d);
            }
            document::Classified::Foreign => r.foreign += 1,
            document::Classified::Invalid => {}
        }
    }
    r
}

//! `drydock render PATH... [--site NAME]`: the rendered concrete documents of a layered
//! design as one YAML stream (the equivalent of `pegleg site render`), drydock documents only
//! unless `--all`, secrets as a placeholder unless `--show-secrets`. Loading problems and
//! rendering findings go to stderr; exit 1 when one is an error.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::design_args::{self, DesignArgs};
use crate::cli::{CliResult, ColorChoice, exit};
use crate::design::render::emit::Emitter;
use crate::design::yaml::{Node, Value};
use crate::report;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A repository root (with --site), a path inside `site/<name>/`, or design files
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Print the documents of every tool (deckhand/, pegleg/, …), not only drydock's
    #[arg(long)]
    all: bool,
    /// Print secret values (Passphrases and credentials) instead of a placeholder
    #[arg(long)]
    show_secrets: bool,
    /// Colour in the diagnostics on stderr
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(flatten)]
    design: DesignArgs,
}

/// The metadata only rendering reads: gone once rendered, so the output reads back as a plain
/// design.
const RENDERING_KEYS: [&str; 2] = ["substitutions", "replacement"];

pub fn run(a: Args) -> CliResult {
    let mut options = a.design.options();
    options.keep_rendered = true;
    let design = design_args::load(&a.paths, &options)?;
    let secret = |key: Option<&str>, n: &Node| {
        !a.show_secrets
            && (design.from_secret_store(n.loc)
                || key.is_some_and(crate::design::document::is_secret_key)
                    && n.scalar_text().is_some_and(|t| {
                        !t.starts_with("env:") && !t.starts_with("file:") && !t.is_empty()
                    }))
    };
    let mut e = Emitter {
        secret: &secret,
        out: String::new(),
    };
    for doc in &design.rendered {
        let schema = doc
            .root
            .get("schema")
            .or_else(|| doc.root.get("apiVersion"))
            .and_then(Node::as_str)
            .unwrap_or("");
        if !a.all && !schema.starts_with("drydock/") {
            continue;
        }
        let mut root = doc.root.clone();
        let layer = strip_rendering(&mut root);
        let mut comment = Vec::new();
        if let Some((path, line, _)) = design.sources.position(doc.span) {
            let mut c = format!("rendered from {}:{line}", report::display_path(path));
            if let Some(l) = layer {
                c.push_str(&format!(" (layer {l})"));
            }
            comment.push(c);
        }
        e.document(&comment, &root);
    }
    let out = e.out;
    // Loading and rendering problems (not schema or rule findings: that is `validate`).
    let findings: Vec<_> = crate::diag::consolidate(
        design
            .findings
            .iter()
            .filter(|f| {
                matches!(
                    f.code,
                    "DD000" | "DD005" | "DD006" | "DD007" | "DD008" | "DD009"
                )
            })
            .cloned()
            .collect(),
    );
    if !findings.is_empty() {
        let input = report::Input {
            design: &design,
            findings: &findings,
            rules_run: &[],
            deny_warnings: false,
        };
        let on = a.color.enabled();
        eprint!(
            "{}",
            report::human::render(
                &input,
                &report::human::Style {
                    color: on,
                    unicode: on,
                    width: 100
                }
            )
        );
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    Ok(if findings.iter().any(|f| f.is_error()) {
        exit::ERROR
    } else {
        exit::OK
    })
}

/// Remove what only rendering reads (parent selectors, actions, substitutions, the
/// replacement flag) from a rendered document's metadata, keeping its layer; returns the layer.
fn strip_rendering(root: &mut Node) -> Option<String> {
    let Value::Map(m) = &mut root.value else {
        return None;
    };
    let meta = m.0.iter_mut().rev().find(|(k, _)| k.name == "metadata")?;
    let Value::Map(meta) = &mut meta.1.value else {
        return None;
    };
    meta.0
        .retain(|(k, _)| !RENDERING_KEYS.contains(&k.name.as_str()));
    let ld = meta
        .0
        .iter_mut()
        .find(|(k, _)| k.name == "layeringDefinition")?;
    let Value::Map(ld) = &mut ld.1.value else {
        return None;
    };
    ld.0.retain(|(k, _)| !matches!(k.name.as_str(), "parentSelector" | "actions"));
    ld.0.iter()
        .find(|(k, _)| k.name == "layer")
        .and_then(|(_, v)| v.scalar_text())
}

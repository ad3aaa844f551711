//! `drydock plan DESIGN`: validate, observe, plan, render; optionally save the plan.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::{ColorChoice, exit, usage_error};
use crate::model::filter::{SetOp, from_targets};
use crate::plan::{self, render};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TargetMode {
    #[default]
    Union,
    Intersection,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Design files or directories
    #[arg(required = true, value_name = "DESIGN")]
    pub paths: Vec<PathBuf>,
    /// Print the plan as JSON (format version 1)
    #[arg(long, conflicts_with = "dot")]
    pub json: bool,
    /// Print the task graph as Graphviz DOT
    #[arg(long)]
    pub dot: bool,
    /// Save the plan to FILE, for `drydock apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan only these nodes: NAME, node:NAME, tag:TAG, rack:RACK, label:KEY=VALUE,
    /// rack-label:KEY=VALUE (repeatable)
    #[arg(long, value_name = "TARGET")]
    pub target: Vec<String>,
    /// How several --target combine
    #[arg(long, value_enum, default_value_t = TargetMode::Union)]
    pub target_mode: TargetMode,
    /// Destroy nodes drydock deployed that the design no longer has
    #[arg(long)]
    pub destroy_removed: bool,
    /// State directory (default: .drydock/<site> in the current directory, or $DRYDOCK_STATE)
    #[arg(long, value_name = "DIR", env = "DRYDOCK_STATE")]
    pub state: Option<PathBuf>,
    /// Colour in human output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

pub fn run(a: Args) -> u8 {
    let planned = match crate::cli::prepare_plan(
        &a.paths,
        a.state.as_deref(),
        &a.target,
        a.target_mode,
        a.destroy_removed,
        a.color,
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let p = &planned.plan;
    let text = if a.json {
        let mut s = serde_json::to_string_pretty(p).expect("plain data serializes");
        s.push('\n');
        s
    } else if a.dot {
        plan::graph::dot(&p.tasks)
    } else {
        render::human(
            p,
            &render::Style {
                color: a.color.enabled(),
            },
        )
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if let Some(file) = &a.out {
        let saved = crate::cli::planfile::SavedPlan {
            paths: planned.paths.clone(),
            state: planned.state_dir.clone(),
            plan: p.clone(),
        };
        if let Err(e) = saved.write(file) {
            return usage_error(e, "choose a writable path for --out");
        }
        if !a.json && !a.dot {
            let _ = writeln!(
                out,
                "\nSaved the plan to {}. Apply it with: drydock apply {}",
                file.display(),
                file.display()
            );
        }
    }
    match (a.detailed_exitcode, p.has_changes()) {
        (true, true) => 2,
        _ => exit::OK,
    }
}

/// Parse the --target arguments.
pub fn target_filter(
    targets: &[String],
    mode: TargetMode,
) -> Result<Option<crate::model::filter::NodeFilter>, String> {
    if targets.is_empty() {
        return Ok(None);
    }
    let op = match mode {
        TargetMode::Union => SetOp::Union,
        TargetMode::Intersection => SetOp::Intersection,
    };
    from_targets(targets, op).map(Some)
}

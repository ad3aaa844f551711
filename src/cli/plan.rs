//! `drydock plan DESIGN`: validate, observe, plan, render; optionally save the plan.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::session::{self, SimArgs};
use crate::cli::{CliError, CliResult, ColorChoice, exit};
use crate::model::filter::{NodeFilter, SetOp, from_targets};
use crate::plan::{self, render};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TargetMode {
    #[default]
    Union,
    Intersection,
}

/// Options shared by `plan` and `apply`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PlanArgs {
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
    /// State directory (default: .drydock/<site> in the current directory)
    #[arg(long, value_name = "DIR", env = "DRYDOCK_STATE")]
    pub state: Option<PathBuf>,
    /// Keep the journal in PostgreSQL (a connection string) instead of the state directory;
    /// the simulator's world stays there
    #[arg(long, value_name = "URL", env = "DRYDOCK_DATABASE")]
    pub database: Option<String>,
    /// Colour in human output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(flatten)]
    pub sim: SimArgs,
    #[command(flatten)]
    pub provisioner: session::ProvisionerArgs,
    #[command(flatten)]
    pub design: crate::cli::design_args::DesignArgs,
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
    /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on any error
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub plan: PlanArgs,
}

/// Parse the --target arguments.
pub fn target_filter(targets: &[String], mode: TargetMode) -> Result<Option<NodeFilter>, String> {
    if targets.is_empty() {
        return Ok(None);
    }
    let op = match mode {
        TargetMode::Union => SetOp::Union,
        TargetMode::Intersection => SetOp::Intersection,
    };
    from_targets(targets, op).map(Some)
}

/// Everything a plan is made from.
pub struct Planned {
    pub loaded: session::Loaded,
    pub session: session::Session,
    pub observed: crate::model::observed::Observed,
    pub plan: plan::Plan,
}

/// Observe the site through an open session and plan.
pub fn make(
    loaded: session::Loaded,
    mut session: session::Session,
    a: &PlanArgs,
    rt: &tokio::runtime::Runtime,
) -> Result<Planned, CliError> {
    session.observer = a.provisioner.observer(&session.state_dir)?;
    let target = target_filter(&a.target, a.target_mode)
        .map_err(|e| CliError::new(e, "see `drydock plan --help` for the target forms"))?;
    let observed = rt.block_on(session::observe(&session, &loaded.site))?;
    if let Some(f) = &target
        && !loaded.site.nodes.iter().any(|n| f.matches(&loaded.site, n))
    {
        eprintln!("warning: --target selects no node of the design");
    }
    let options = plan::Options {
        destroy_removed: a.destroy_removed,
        target,
        target_args: a.target.clone(),
        design_hash: loaded.design.content_hash(),
    };
    let plan = plan::plan(&loaded.site, &observed, &options);
    Ok(Planned {
        loaded,
        session,
        observed,
        plan,
    })
}

/// `p` made absolute (against the current directory), without resolving links.
fn absolute(p: &std::path::Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

pub fn run(a: Args) -> CliResult {
    let rt = session::runtime(false);
    let loaded = session::load_for(
        &a.paths,
        &a.plan.design,
        a.plan.color,
        a.plan.provisioner.catalog()?,
    )?;
    let dir = session::state_dir(a.plan.state.as_deref(), &loaded.site);
    // `plan` never writes: it reads the state as it stands, beside a running apply too.
    let s = session::open_read_with(
        &dir,
        a.plan.sim.config(&loaded.site)?,
        a.plan.database.as_deref(),
    )?;
    if !s.exists {
        eprintln!(
            "note: no state at {}: nothing has been applied from here, so this plans the site as if nothing were deployed. If the site is deployed, name its state with --state DIR.",
            dir.display()
        );
    }
    if let Some(n) = session::running_note(&s) {
        eprintln!("{n}; the plan may change when that apply ends");
    }
    let planned = make(loaded, s, &a.plan, &rt)?;
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
                color: a.plan.color.enabled(),
            },
        )
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if let Some(file) = &a.out {
        let saved = crate::cli::planfile::SavedPlan {
            // Absolute, so the plan applies from any directory.
            paths: planned.loaded.paths.iter().map(|p| absolute(p)).collect(),
            state: absolute(&planned.session.state_dir),
            plan: p.clone(),
        };
        saved
            .write(file)
            .map_err(|e| CliError::new(e, "choose a writable path for --out"))?;
        if !a.json && !a.dot {
            let _ = writeln!(
                out,
                "\nSaved the plan to {f}. Apply it with: drydock apply {f}",
                f = file.display()
            );
        }
    }
    let code = match (a.detailed_exitcode, p.has_changes()) {
        (true, true) => exit::CHANGES,
        _ => exit::OK,
    };
    // The process ends here: freeing the design's trees one by one costs a tenth of the run.
    std::mem::forget(planned);
    Ok(code)
}

//! `drydock state verify | backup | rebuild`: checking the state directory, copying it, and
//! starting a new journal from what the provisioner reports when the journal is lost or
//! damaged. The state is found as every command finds it.

use std::path::PathBuf;

use crate::cli::session;
use crate::cli::status::Locate;
use crate::cli::{CliError, CliResult, exit};
use crate::state::Journal;

#[derive(clap::Subcommand, Debug)]
pub enum StateCommand {
    /// Read every record of the journal and the simulator's world and check them: exit 0 when
    /// they are whole, 1 (naming the file and the damage) when not
    Verify(Locate),
    /// Copy the state directory's journal and world to DIR (a consistent copy, also while an
    /// apply runs)
    Backup(BackupArgs),
    /// Start a new journal from what the provisioner reports: nodes it shows deployed with the
    /// design's fingerprint are recorded as deployed; everything else is unknown and planned.
    /// The old journal is kept beside it (journal.damaged-TIME.log)
    Rebuild(RebuildArgs),
}

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub at: Locate,
    /// Where to write the copy (a new or empty directory)
    #[arg(long, value_name = "DIR", required = true)]
    pub to: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct RebuildArgs {
    /// The site's design
    #[arg(required = true, value_name = "DESIGN")]
    pub paths: Vec<PathBuf>,
    /// State directory (default: .drydock/<site> of the design, in the current directory)
    #[arg(long, value_name = "DIR", env = "DRYDOCK_STATE")]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub sim: session::SimArgs,
}

pub fn run(c: StateCommand) -> CliResult {
    match c {
        StateCommand::Verify(at) => verify(at),
        StateCommand::Backup(a) => backup(a),
        StateCommand::Rebuild(a) => rebuild(a),
    }
}

fn verify(at: Locate) -> CliResult {
    let (dir, _) = at.find()?;
    let s = session::open_read(&dir, Default::default())?;
    if !s.exists {
        return Err(session::no_state(&dir));
    }
    let j = &s.journal;
    let runs = j.last_run.map_or(0, |(r, _)| r);
    outln!(
        "journal {}: {} tasks over {runs} runs, {} nodes recorded, {} completed applies: whole.",
        crate::state::file_store::base(&dir)
            .with_extension("log")
            .display(),
        j.tasks.len(),
        j.nodes.len(),
        j.epoch,
    );
    let w = crate::driver::sim::World::load(&dir).map_err(|e| {
        CliError::new(
            e,
            "the simulator's world is damaged; keep a copy of the state directory",
        )
    })?;
    outln!(
        "simulator world {}: {} machines: whole.",
        dir.join("sim.log").display(),
        w.machines.len()
    );
    if let Some(n) = session::running_note(&s) {
        eprintln!("{n}");
    }
    Ok(exit::OK)
}

fn backup(a: BackupArgs) -> CliResult {
    let (dir, _) = a.at.find()?;
    if !crate::state::file_store::base(&dir)
        .with_extension("log")
        .exists()
    {
        return Err(session::no_state(&dir));
    }
    if std::fs::read_dir(&a.to).is_ok_and(|mut d| d.next().is_some()) {
        return Err(CliError::new(
            format!("{} exists and is not empty", a.to.display()),
            "name a new directory for the backup",
        ));
    }
    crate::state::create_dir(&a.to).map_err(|e| session::store_error(&a.to, e))?;
    // The journal first, then the world: the world may be ahead of the journal (it is after a
    // crash too), never behind it.
    let mut copied = Vec::new();
    for name in ["journal", "sim"] {
        let n = crate::durable::copy(&dir.join(name), &a.to.join(name))
            .map_err(|e| session::store_error(&dir, e.into()))?;
        copied.push(format!("{name}: {n} records"));
    }
    outln!(
        "Backed up {} to {} ({}). Restore by using it as --state (or copying it back) while no apply runs.",
        dir.display(),
        a.to.display(),
        copied.join(", ")
    );
    Ok(exit::OK)
}

fn rebuild(a: RebuildArgs) -> CliResult {
    let loaded = session::load(&a.paths, crate::cli::ColorChoice::Never)?;
    let dir = session::state_dir(a.state.as_deref(), &loaded.site);
    let lock = crate::cli::apply::take_lock(&dir, "drydock state rebuild")?;
    let journal = crate::state::file_store::base(&dir);
    let stamp = crate::state::lock::format_time(crate::state::now_ms())
        .replace([' ', ':'], "-")
        .trim_end_matches("-UTC")
        .to_string();
    let mut kept = Vec::new();
    for ext in ["log", "head"] {
        let from = journal.with_extension(ext);
        if from.exists() {
            let to = dir.join(format!("journal.damaged-{stamp}.{ext}"));
            std::fs::rename(&from, &to).map_err(|e| {
                CliError::new(
                    format!("cannot move {} aside: {e}", from.display()),
                    "check the state directory's permissions",
                )
            })?;
            kept.push(to.display().to_string());
        }
    }
    let rt = session::runtime(false);
    let s = session::open_write(&dir, a.sim.config(&loaded.site)?)?;
    let planned = crate::cli::plan::make(loaded, s, &Default::default(), &rt)?;
    let s = &planned.session;
    let recorded = rt
        .block_on(crate::execute::record_unrecorded(
            s.store().as_ref(),
            &Journal::default(),
            &planned.plan,
        ))
        .map_err(|e| session::store_error(&dir, e))?;
    s.checkpoint().map_err(|e| session::store_error(&dir, e))?;
    drop(lock);
    let unknown = planned
        .plan
        .nodes
        .iter()
        .filter(|n| !n.unrecorded && n.action != crate::plan::Action::NoOp)
        .count();
    outln!(
        "Started a new journal in {}: {recorded} node(s) recorded as deployed (the provisioner shows them deployed with the design's configuration); {unknown} node(s) unknown, planned by the next apply.",
        dir.display()
    );
    if !kept.is_empty() {
        outln!("The old journal is kept: {}.", kept.join(", "));
    }
    Ok(exit::OK)
}

//! `drydock status`, `drydock tasks`, `drydock force-unlock`: reading the state. They find the
//! state as every command does (`--state DIR`, or `.drydock/<site>` of the design), read it
//! without a lock (an apply may be running: they say so), and refuse a state directory that
//! does not exist instead of showing an empty site.

use std::path::PathBuf;

use crate::cli::session::{self, SimArgs};
use crate::cli::{CliError, CliResult, ColorChoice, exit};
use crate::state::lock::format_time;

/// Where the state of a site is: `--state DIR`, or the default of the design's site.
#[derive(clap::Args, Debug, Clone)]
pub struct Locate {
    /// The site's design (files or directories); with --state it may be left out
    #[arg(value_name = "DESIGN")]
    pub paths: Vec<PathBuf>,
    /// State directory (default: .drydock/<site> of the design, in the current directory)
    #[arg(long, value_name = "DIR", env = "DRYDOCK_STATE")]
    pub state: Option<PathBuf>,
    /// Read the journal from PostgreSQL (a connection string) instead of the state directory
    #[arg(long, value_name = "URL", env = "DRYDOCK_DATABASE")]
    pub database: Option<String>,
}

impl Locate {
    /// The state directory, and the design when it was given (loaded and valid).
    pub fn find(&self) -> Result<(PathBuf, Option<session::Loaded>), CliError> {
        let loaded = if self.paths.is_empty() {
            None
        } else {
            Some(session::load(&self.paths, ColorChoice::Never)?)
        };
        match (&self.state, &loaded) {
            (Some(d), _) => Ok((d.clone(), loaded)),
            (None, Some(l)) => {
                let dir = session::state_dir(None, &l.site);
                Ok((dir, loaded))
            }
            (None, None) => Err(CliError::new(
                "no design and no --state: drydock cannot tell which site's state to use",
                "give the site's design (its default state is .drydock/<site>), or --state DIR",
            )),
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The site's design
    #[arg(required = true, value_name = "DESIGN")]
    pub paths: Vec<PathBuf>,
    /// State directory (default: .drydock/<site> of the design, in the current directory)
    #[arg(long, value_name = "DIR", env = "DRYDOCK_STATE")]
    pub state: Option<PathBuf>,
    /// Read the journal from PostgreSQL (a connection string) instead of the state directory
    #[arg(long, value_name = "URL", env = "DRYDOCK_DATABASE")]
    pub database: Option<String>,
    #[command(flatten)]
    pub sim: SimArgs,
    #[command(flatten)]
    pub provisioner: session::ProvisionerArgs,
}

#[derive(clap::Args, Debug)]
pub struct TasksArgs {
    #[command(flatten)]
    pub at: Locate,
    /// A task id (or a prefix of one): show its steps
    #[arg(long, value_name = "ID")]
    pub task: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct UnlockArgs {
    #[command(flatten)]
    pub at: Locate,
    /// Remove the lock even when its holder is alive on this host (you know it is wedged)
    #[arg(long)]
    pub force: bool,
}

pub fn status(a: StatusArgs) -> CliResult {
    let loaded = session::load_for(
        &a.paths,
        &Default::default(),
        ColorChoice::Never,
        a.provisioner.catalog()?,
    )?;
    let dir = session::state_dir(a.state.as_deref(), &loaded.site);
    let mut s = session::open_read_with(&dir, a.sim.config(&loaded.site)?, a.database.as_deref())?;
    if !s.exists {
        return Err(session::no_state(&dir));
    }
    s.observer = a.provisioner.observer(&dir)?;
    if let Some(n) = session::running_note(&s) {
        eprintln!("{n}");
    }
    let rt = session::runtime(false);
    let observed = rt.block_on(session::observe(&s, &loaded.site))?;
    let mut names: Vec<&String> = observed.nodes.keys().collect();
    for n in &loaded.site.nodes {
        if !observed.nodes.contains_key(&n.name.v) {
            names.push(&n.name.v);
        }
    }
    names.sort();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(4).max(4);
    outln_clean!(
        "{:<width$}  {:<22}  {:<7}  {:<24}  LAST ERROR",
        "NODE",
        "STATE",
        "POWER",
        "LAST TASK"
    );
    let unknown = Default::default();
    for name in names {
        let o = observed.nodes.get(name).unwrap_or(&unknown);
        let rec = s.journal.nodes.get(name);
        let last = rec.and_then(|r| r.last_task).map_or("-".into(), |(k, st)| {
            format!("{k} {st:?}")
                .to_lowercase()
                .replacen(&k.as_str().to_lowercase(), k.as_str(), 1)
        });
        let err = rec
            .and_then(|r| r.last_failure.as_ref())
            .map_or("-".into(), |f| format!("{}: {}", f.at, f.error));
        let in_design = if loaded.site.node(name).is_some() {
            ""
        } else {
            " (not in design)"
        };
        outln_clean!(
            "{:<width$}  {:<22}  {:<7}  {:<24}  {err}{in_design}",
            name,
            o.status.as_str(),
            format!("{:?}", o.power).to_lowercase(),
            last
        );
    }
    if let Some((run, outcome)) = s.journal.last_run {
        let how = outcome.map_or("did not finish (interrupted)".to_string(), |o| {
            format!("{o:?}").to_lowercase()
        });
        outln_clean!(
            "\nLast apply: run {run}, {how}. Completed applies: {}.",
            s.journal.epoch
        );
    }
    Ok(exit::OK)
}

pub fn tasks(a: TasksArgs) -> CliResult {
    let (dir, _) = a.at.find()?;
    let s = session::open_read_with(&dir, Default::default(), a.at.database.as_deref())?;
    if !s.exists {
        return Err(session::no_state(&dir));
    }
    if let Some(n) = session::running_note(&s) {
        eprintln!("{n}");
    }
    let mut tasks: Vec<_> = s.journal.tasks.values().collect();
    tasks.sort_by_key(|t| (t.queued_ms, t.started_ms, t.id.0.clone()));
    if let Some(id) = &a.task {
        let found: Vec<_> = tasks
            .iter()
            .filter(|t| t.id.0.starts_with(id.as_str()))
            .collect();
        let [t] = found.as_slice() else {
            return Err(CliError::new(
                format!("{} tasks match `{id}`", found.len()),
                "give more of the id; `drydock tasks DESIGN` lists them",
            ));
        };
        outln_clean!(
            "task      {}\nkind      {}\nnode      {}\nstate     {:?}\nrun       {}\nattempts  {}",
            t.id,
            t.kind,
            t.node.as_deref().unwrap_or("-"),
            t.state,
            t.run,
            t.attempts
        );
        if let Some(st) = t.started_ms {
            outln_clean!("started   {}", format_time(st));
        }
        if let (Some(st), Some(f)) = (t.started_ms, t.finished_ms) {
            outln_clean!("took      {:.3}s", (f.saturating_sub(st)) as f64 / 1000.0);
        }
        if let Some(e) = &t.error {
            outln_clean!("error     {e}");
        }
        for (step, ms, calls) in &t.steps {
            outln_clean!(
                "  {step:<22} {:>9.3}s  {calls} call(s)",
                *ms as f64 / 1000.0
            );
        }
        return Ok(exit::OK);
    }
    outln_clean!(
        "{:<16}  {:<12}  {:<16}  {:<10}  {:>9}  ERROR",
        "ID",
        "KIND",
        "NODE",
        "STATE",
        "SECONDS"
    );
    for t in tasks {
        let secs = match (t.started_ms, t.finished_ms) {
            (Some(a), Some(b)) => format!("{:.3}", b.saturating_sub(a) as f64 / 1000.0),
            _ => "-".into(),
        };
        outln_clean!(
            "{:<16}  {:<12}  {:<16}  {:<10}  {:>9}  {}",
            &t.id.0[..16.min(t.id.0.len())],
            t.kind.as_str(),
            t.node.as_deref().unwrap_or("-"),
            format!("{:?}", t.state).to_lowercase(),
            secs,
            t.error.as_deref().unwrap_or("")
        );
    }
    Ok(exit::OK)
}

pub fn force_unlock(a: UnlockArgs) -> CliResult {
    let (dir, _) = a.at.find()?;
    match crate::state::lock::force_unlock(&dir, a.force) {
        Ok(Some(h)) => outln_clean!("Removed the site lock held by {h}."),
        Ok(None) => outln_clean!("There was no site lock in {}.", dir.display()),
        Err(crate::state::lock::LockError::Live(h)) => {
            return Err(CliError::new(
                format!(
                    "refusing to remove the site lock: its holder, pid {}, is running on this host ({h})",
                    h.pid
                ),
                "let that apply finish or stop it (Ctrl-C or `kill` it: it cancels cleanly); if it is wedged and you know removing its lock is safe, add --force",
            ));
        }
        Err(e) => return Err(CliError::new(e, "check the state directory's permissions")),
    }
    Ok(exit::OK)
}

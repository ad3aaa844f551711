//! `drydock status`, `drydock tasks [ID]`, `drydock force-unlock`: reading the state.

use std::path::PathBuf;

use crate::cli::session::{self, SimArgs};
use crate::cli::{CliError, CliResult, ColorChoice, exit};
use crate::state::lock::format_time;

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The site's design
    #[arg(required = true, value_name = "DESIGN")]
    pub paths: Vec<PathBuf>,
    /// State directory (default: .drydock/<site>)
    #[arg(long, value_name = "DIR", env = "DRYDOCK_STATE")]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub sim: SimArgs,
}

#[derive(clap::Args, Debug)]
pub struct TasksArgs {
    /// A task id (or a prefix of one): show its steps
    pub id: Option<String>,
    /// State directory
    #[arg(long, required = true, value_name = "DIR", env = "DRYDOCK_STATE")]
    pub state: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct UnlockArgs {
    /// State directory
    #[arg(long, required = true, value_name = "DIR", env = "DRYDOCK_STATE")]
    pub state: PathBuf,
}

pub fn status(a: StatusArgs) -> CliResult {
    let loaded = session::load(&a.paths, ColorChoice::Never)?;
    let dir = session::state_dir(a.state.as_deref(), &loaded.site);
    let s = session::open(&dir, a.sim.config(&loaded.site)?)?;
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
    outln!(
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
        outln!(
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
        outln!(
            "\nLast apply: run {run}, {how}. Completed applies: {}.",
            s.journal.epoch
        );
    }
    Ok(exit::OK)
}

pub fn tasks(a: TasksArgs) -> CliResult {
    let s = session::open(&a.state, Default::default())?;
    let mut tasks: Vec<_> = s.journal.tasks.values().collect();
    tasks.sort_by_key(|t| (t.queued_ms, t.started_ms, t.id.0.clone()));
    if let Some(id) = &a.id {
        let found: Vec<_> = tasks
            .iter()
            .filter(|t| t.id.0.starts_with(id.as_str()))
            .collect();
        let [t] = found.as_slice() else {
            return Err(CliError::new(
                format!("{} tasks match `{id}`", found.len()),
                "give more of the id; `drydock tasks --state DIR` lists them",
            ));
        };
        outln!(
            "task      {}\nkind      {}\nnode      {}\nstate     {:?}\nrun       {}\nattempts  {}",
            t.id,
            t.kind,
            t.node.as_deref().unwrap_or("-"),
            t.state,
            t.run,
            t.attempts
        );
        if let Some(st) = t.started_ms {
            outln!("started   {}", format_time(st));
        }
        if let (Some(st), Some(f)) = (t.started_ms, t.finished_ms) {
            outln!("took      {:.3}s", (f.saturating_sub(st)) as f64 / 1000.0);
        }
        if let Some(e) = &t.error {
            outln!("error     {e}");
        }
        for (step, ms, calls) in &t.steps {
            outln!(
                "  {step:<22} {:>9.3}s  {calls} call(s)",
                *ms as f64 / 1000.0
            );
        }
        return Ok(exit::OK);
    }
    outln!(
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
        outln!(
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
    match crate::state::lock::force_unlock(&a.state) {
        Ok(Some(h)) => outln!("Removed the site lock held by {h}."),
        Ok(None) => outln!("There was no site lock in {}.", a.state.display()),
        Err(e) => return Err(CliError::new(e, "check the state directory's permissions")),
    }
    Ok(exit::OK)
}

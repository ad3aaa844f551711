//! `drydock apply DESIGN|PLANFILE` and `drydock destroy NODE...`: plan (or read a saved plan
//! and refuse it if stale), show it, ask for confirmation, run it with live progress, print a
//! summary. Exit 0 when every node succeeded, 1 otherwise, 130 when cancelled.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::plan::{PlanArgs, Planned};
use crate::cli::planfile::SavedPlan;
use crate::cli::progress::{self, ProgressMode};
use crate::cli::session;
use crate::cli::{exit, usage_error};
use crate::execute::{self, Drivers, NodeOutcome, Settings};
use crate::plan::{StepKind, render};
use crate::state::Outcome;

/// Executor settings from the command line (over `--config FILE`).
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Apply without asking for confirmation (CI)
    #[arg(long)]
    pub auto_approve: bool,
    /// Executor settings file (YAML: concurrency, rack_concurrency, retries, backoff_base_ms,
    /// backoff_cap_ms, max_failures, timeouts: {STEP: SECONDS})
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Nodes worked on at once [default: 32]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Nodes of one rack worked on at once [default: 8]
    #[arg(long, value_name = "N")]
    pub rack_concurrency: Option<usize>,
    /// Retries of a transient error per step [default: 5]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Stop starting new nodes after N node failures
    #[arg(long, value_name = "N")]
    pub max_failures: Option<usize>,
    /// Override a step's timeout, e.g. deploy=90m or identify=30s (repeatable)
    #[arg(long, value_name = "STEP=DURATION")]
    pub timeout: Vec<String>,
    /// Progress display [default: fancy on a terminal, plain otherwise]
    #[arg(long, value_enum)]
    pub progress: Option<ProgressMode>,
    /// Which BMC drivers run: `real` drives each node's BMC by its oob.type (Redfish, IPMI);
    /// `simulated` lets the simulator play every BMC (`manual` nodes are never driven)
    #[arg(long, value_enum, default_value_t = BmcMode::Simulated)]
    pub bmc: BmcMode,
    /// CA bundle (PEM) for Redfish BMC certificates, site-wide (a node's oob.ca_bundle wins)
    #[arg(long, value_name = "FILE")]
    pub bmc_ca_bundle: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BmcMode {
    Real,
    Simulated,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A design (files or directories), or a plan file saved by `drydock plan --out`
    #[arg(required = true, value_name = "DESIGN|PLANFILE")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(clap::Args, Debug)]
pub struct DestroyArgs {
    /// Nodes to release
    #[arg(required = true, value_name = "NODE")]
    pub nodes: Vec<String>,
    /// The site's design
    #[arg(long, required = true, value_name = "DESIGN")]
    pub design: Vec<PathBuf>,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, default)]
struct ConfigFile {
    concurrency: Option<usize>,
    rack_concurrency: Option<usize>,
    retries: Option<u32>,
    backoff_base_ms: Option<u64>,
    backoff_cap_ms: Option<u64>,
    max_failures: Option<usize>,
    timeouts: HashMap<String, u64>,
    seed: Option<u64>,
}

fn step_kind(name: &str) -> Option<StepKind> {
    use crate::plan::TaskKind::*;
    [
        VerifySite,
        PrepareSite,
        VerifyNode,
        PrepareNode,
        DeployNode,
        UpdateNode,
        DestroyNode,
    ]
    .iter()
    .flat_map(|k| k.steps())
    .copied()
    .find(|s| s.as_str() == name)
}

/// `90m`, `30s`, `2h`, or plain seconds.
fn parse_duration(s: &str) -> Option<Duration> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = n.parse().ok()?;
    Some(Duration::from_secs(match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return None,
    }))
}

impl RunArgs {
    pub fn settings(&self) -> Result<Settings, u8> {
        let mut s = Settings::default();
        if let Some(p) = &self.config {
            let text = std::fs::read_to_string(p).map_err(|e| {
                usage_error(
                    format!("{}: {e}", p.display()),
                    "give a readable settings file",
                )
            })?;
            let c: ConfigFile = serde_saphyr::from_str(&text).map_err(|e| {
                usage_error(
                    format!("{}: {e}", p.display()),
                    "see README, \"Applying\", for the settings",
                )
            })?;
            s.concurrency = c.concurrency.unwrap_or(s.concurrency);
            s.rack_concurrency = c.rack_concurrency.unwrap_or(s.rack_concurrency);
            s.retries = c.retries.unwrap_or(s.retries);
            if let Some(b) = c.backoff_base_ms {
                s.backoff.base = Duration::from_millis(b);
            }
            if let Some(b) = c.backoff_cap_ms {
                s.backoff.cap = Duration::from_millis(b);
            }
            s.max_failures = c.max_failures.or(s.max_failures);
            s.seed = c.seed.unwrap_or(s.seed);
            for (k, v) in c.timeouts {
                let step = step_kind(&k).ok_or_else(|| {
                    usage_error(
                        format!("{}: unknown step `{k}` in timeouts", p.display()),
                        "the steps are listed by `drydock plan --json`",
                    )
                })?;
                s.timeouts.insert(step, Duration::from_secs(v));
            }
        }
        s.concurrency = self.concurrency.unwrap_or(s.concurrency);
        s.rack_concurrency = self.rack_concurrency.unwrap_or(s.rack_concurrency);
        s.retries = self.retries.unwrap_or(s.retries);
        s.max_failures = self.max_failures.or(s.max_failures);
        for t in &self.timeout {
            let parsed = t
                .split_once('=')
                .and_then(|(k, v)| Some((step_kind(k)?, parse_duration(v)?)));
            let (k, d) = parsed.ok_or_else(|| {
                usage_error(
                    format!("--timeout {t}: expected STEP=DURATION, e.g. deploy=90m"),
                    "step names are those of `drydock plan --json`",
                )
            })?;
            s.timeouts.insert(k, d);
        }
        Ok(s)
    }
}

pub fn run(a: Args) -> u8 {
    let rt = session::runtime(true);
    let settings = match a.run.settings() {
        Ok(s) => s,
        Err(c) => return c,
    };
    // A single path that is a saved plan: apply exactly it, if still fresh.
    if let [p] = a.paths.as_slice()
        && SavedPlan::looks_like(p)
    {
        let saved = match SavedPlan::read(p) {
            Ok(s) => s,
            Err(e) => {
                return usage_error(
                    e,
                    "give a plan saved by `drydock plan --out FILE`, or a design",
                );
            }
        };
        let mut pa = a.plan.clone();
        pa.state = Some(saved.state.clone());
        pa.target = saved.plan.targets.clone();
        pa.destroy_removed = saved.plan.destroy_removed;
        let planned = match locked_plan(&saved.paths, &pa, &rt) {
            Ok(p) => p,
            Err(c) => return c,
        };
        if let Err(stale) = saved
            .plan
            .check_fresh(&planned.0.loaded.design.content_hash(), &planned.0.observed)
        {
            eprintln!(
                "error: the saved plan {} is stale: {stale}\n  help: run `drydock plan --out {}` again and review the new plan",
                p.display(),
                p.display()
            );
            return exit::FINDINGS;
        }
        let (mut planned, lock) = planned;
        planned.plan = saved.plan;
        return execute_plan(planned, lock, &a.plan, &a.run, settings, &rt, true);
    }
    let (planned, lock) = match locked_plan(&a.paths, &a.plan, &rt) {
        Ok(p) => p,
        Err(c) => return c,
    };
    execute_plan(planned, lock, &a.plan, &a.run, settings, &rt, false)
}

pub fn destroy(a: DestroyArgs) -> u8 {
    let rt = session::runtime(true);
    let settings = match a.run.settings() {
        Ok(s) => s,
        Err(c) => return c,
    };
    let (mut planned, lock) = match locked_plan(&a.design, &a.plan, &rt) {
        Ok(p) => p,
        Err(c) => return c,
    };
    match crate::plan::destroy(
        &planned.loaded.site,
        &planned.observed,
        &a.nodes,
        &planned.loaded.design.content_hash(),
    ) {
        Ok(p) => planned.plan = p,
        Err(e) => return usage_error(e, "`drydock status` lists the nodes the provisioner knows"),
    }
    execute_plan(planned, lock, &a.plan, &a.run, settings, &rt, false)
}

/// Load the design, take the site lock, open the state and plan.
fn locked_plan(
    paths: &[PathBuf],
    a: &PlanArgs,
    rt: &tokio::runtime::Runtime,
) -> Result<(Planned, crate::state::lock::SiteLock), u8> {
    // The lock is taken before the state is opened, so a second apply fails at once with the
    // holder's name instead of waiting on the database.
    let loaded = session::load_with(paths, &a.design, a.color)?;
    let dir = session::state_dir(a.state.as_deref(), &loaded.site);
    drop(loaded);
    let lock = match crate::state::lock::acquire(&dir, "drydock apply") {
        Ok(l) => l,
        Err(crate::state::lock::LockError::Held(h)) => {
            eprintln!(
                "error: another drydock is applying to this site: {h}\n  help: wait for it to finish; if that process is gone for good, run `drydock force-unlock --state {}`",
                dir.display()
            );
            return Err(exit::FINDINGS);
        }
        Err(e) => return Err(usage_error(e, "check the state directory's permissions")),
    };
    if let Some(h) = &lock.took_over {
        eprintln!("note: took over the site lock left by {h}, which is no longer running");
    }
    let mut pa = a.clone();
    pa.state = Some(dir);
    let planned = crate::cli::plan::make(paths, &pa, rt)?;
    Ok((planned, lock))
}

fn confirm() -> bool {
    eprint!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim() == "yes"
}

fn execute_plan(
    planned: Planned,
    lock: crate::state::lock::SiteLock,
    pa: &PlanArgs,
    ra: &RunArgs,
    settings: Settings,
    rt: &tokio::runtime::Runtime,
    from_file: bool,
) -> u8 {
    let color = pa.color.enabled();
    let plan = &planned.plan;
    print!("{}", render::human(plan, &render::Style { color }));
    // Facts the world proves and the journal missed (a crash between a deploy's "done" and its
    // record) are recorded first, even when there is nothing else to do: they change nothing
    // in the world, only what drydock remembers of it.
    {
        let s = &planned.session;
        let inferred = crate::observe::inferred(&planned.observed, &s.journal);
        let run_before = s.journal.last_run.map_or(0, |(r, _)| r);
        if let Err(e) = rt.block_on(execute::record_inferred(
            s.store.as_ref(),
            run_before,
            &inferred,
        )) {
            eprintln!(
                "error: {e}\n  help: nothing was applied; check the state directory and retry"
            );
            return exit::FINDINGS;
        }
    }
    if !plan.has_changes() {
        let s = &planned.session;
        if let Err(e) = rt.block_on(execute::close_interrupted(s.store.as_ref(), &s.journal)) {
            eprintln!("error: {e}\n  help: check the state directory and retry");
            return exit::FINDINGS;
        }
        return exit::OK;
    }
    if !ra.auto_approve && !from_file {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "error: refusing to apply without confirmation\n  help: pass --auto-approve (standard input is not a terminal)"
            );
            return exit::FINDINGS;
        }
        if !confirm() {
            eprintln!("Apply cancelled.");
            return exit::OK;
        }
    }
    let s = &planned.session;
    let site = &planned.loaded.site;

    let nodes = execute::spec::nodes(site, plan, &s.journal);
    let sim = s.sim.clone();
    let mut oob: HashMap<crate::driver::OobKind, Arc<dyn crate::driver::OobDriver>> =
        HashMap::new();
    oob.insert(
        crate::driver::OobKind::Manual,
        Arc::new(crate::driver::manual::Manual),
    );
    if ra.bmc == BmcMode::Real {
        let redfish = crate::driver::redfish::RedfishOptions {
            ca_bundle: ra.bmc_ca_bundle.clone(),
            ..Default::default()
        };
        oob.insert(
            crate::driver::OobKind::Redfish,
            Arc::new(crate::driver::redfish::Redfish::new(redfish)),
        );
        oob.insert(
            crate::driver::OobKind::Ipmi,
            Arc::new(crate::driver::ipmi::Ipmi::new(Default::default())),
        );
        oob.insert(
            crate::driver::OobKind::Libvirt,
            Arc::new(crate::driver::manual::Unsupported("libvirt")),
        );
    }
    let drivers = Drivers {
        provisioner: sim.clone(),
        site: sim.clone(),
        oob,
        default_oob: sim,
    };
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mode = ra.progress.unwrap_or(if std::io::stderr().is_terminal() {
        ProgressMode::Fancy
    } else {
        ProgressMode::Plain
    });
    let total_nodes = plan
        .nodes
        .iter()
        .filter(|n| {
            !matches!(
                n.action,
                crate::plan::Action::NoOp | crate::plan::Action::Orphaned
            )
        })
        .count();
    let result = rt.block_on(async {
        let ui = tokio::spawn(progress::show(rx, mode, total_nodes));
        let ctrl_c = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ncancelling: in-flight steps are abandoned, the journal stays consistent; run apply again to resume");
                let _ = cancel_tx.send(true);
            }
        });
        let r = execute::run(execute::Apply {
            plan,
            journal: &s.journal,
            nodes,
            site: execute::spec::site(site),
            store: s.store.clone() as Arc<dyn crate::state::StateStore>,
            drivers,
            settings,
            progress: Some(tx),
            cancel: cancel_rx,
        })
        .await;
        ctrl_c.abort();
        let _ = ui.await;
        r
    });
    drop(lock);
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: {e}\n  help: nothing recorded was lost; run apply again to resume once the cause is fixed"
            );
            return exit::FINDINGS;
        }
    };
    print!("{}", progress::summary(&result, color));
    match result.outcome {
        Outcome::Success => exit::OK,
        Outcome::Cancelled => 130,
        Outcome::Partial | Outcome::Failure => exit::FINDINGS,
    }
}

/// Whether a node outcome counts as a failure (for the summary).
pub fn failed(o: &NodeOutcome) -> bool {
    matches!(
        o,
        NodeOutcome::Failed { .. } | NodeOutcome::NotStarted { .. }
    )
}

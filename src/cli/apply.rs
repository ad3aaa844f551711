//! `drydock apply DESIGN|PLANFILE` and `drydock destroy NODE...`: plan (or read a saved plan
//! and refuse it if stale), show it, ask for confirmation, run it with live progress, print a
//! summary. Exit 0 when every node succeeded, 1 otherwise, 130 when cancelled.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::plan::{PlanArgs, Planned};
use crate::cli::planfile::SavedPlan;
use crate::cli::progress::{self, ProgressMode};
use crate::cli::session;
use crate::cli::signals::{self, Signals};
use crate::cli::{CliError, CliResult, exit};
use crate::execute::{self, Settings};
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
    /// Retries of a transient error per step; 0 or `forever` never gives up (with the capped
    /// backoff, until the step's timeout), as the MAAS SDK does
    /// [default: 5]
    #[arg(long, value_name = "N")]
    #[arg(value_parser = parse_retries)]
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
    /// Which BMC drivers run: `real` drives each node's BMC by its oob.type (Redfish, IPMI,
    /// libvirt); `simulated` lets the simulator play every BMC (`manual` nodes are never
    /// driven) [default: simulated; real with --provisioner pxe]
    #[arg(long, value_enum)]
    pub bmc: Option<BmcMode>,
    /// CA bundle (PEM) for Redfish BMC certificates, site-wide (a node's oob.ca_bundle wins)
    #[arg(long, value_name = "FILE")]
    pub bmc_ca_bundle: Option<PathBuf>,
    /// --provisioner maas: where the boot-action API listens while the apply runs, so the
    /// deployed nodes can signal their `signaling: true` boot actions (an address they
    /// reach; required when the plan deploys such a node)
    #[arg(long, value_name = "ADDR:PORT", env = "DRYDOCK_SIGNAL_LISTEN")]
    pub signal_listen: Option<std::net::SocketAddr>,
    /// --provisioner maas: the URL the nodes reach the boot-action API at
    /// [default: http://ADDR:PORT of --signal-listen]
    #[arg(
        long,
        value_name = "URL",
        env = "DRYDOCK_SIGNAL_URL",
        requires = "signal_listen"
    )]
    pub signal_url: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BmcMode {
    Real,
    Simulated,
}

/// The BMC drivers to run: `--bmc` as given, else real when drydock boots the machines itself
/// (`pxe`), else simulated. `--bmc simulated` with drydock booting real machines is refused.
pub fn bmc(
    given: Option<BmcMode>,
    ca_bundle: Option<PathBuf>,
    pxe: bool,
) -> Result<crate::service::Bmc, CliError> {
    let mode = match (given, pxe) {
        (Some(BmcMode::Simulated), true) => {
            return Err(CliError::new(
                "drydock's PXE boot service boots real machines and cannot run with --bmc simulated",
                "drop --bmc simulated (the PXE provisioner drives the nodes' BMCs), or use the simulator provisioner",
            ));
        }
        (Some(b), _) => b,
        (None, true) => BmcMode::Real,
        (None, false) => BmcMode::Simulated,
    };
    Ok(match mode {
        BmcMode::Real => crate::service::Bmc::Real { ca_bundle },
        BmcMode::Simulated => crate::service::Bmc::Simulated,
    })
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
    /// The site's design (files or directories)
    #[arg(required = true, value_name = "DESIGN")]
    pub design: Vec<PathBuf>,
    /// A node to release (repeatable)
    #[arg(long = "node", required = true, value_name = "NODE")]
    pub nodes: Vec<String>,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `--retries`: a number, or 0 or `forever` for no limit.
fn parse_retries(s: &str) -> Result<u32, String> {
    if s == "forever" {
        return Ok(crate::execute::RETRY_FOREVER);
    }
    s.parse::<u32>().map_err(|_| {
        format!("`{s}` is not a number of retries: give a number such as 5, or 0 or `forever` to retry until the step's timeout")
    })
}

/// `retries:` in the settings file: a number or `forever`.
#[derive(serde::Deserialize, Debug)]
#[serde(untagged)]
enum RetriesValue {
    Count(u32),
    Word(String),
}

impl RetriesValue {
    fn count(&self) -> Result<u32, String> {
        match self {
            RetriesValue::Count(n) => parse_retries(&n.to_string()),
            RetriesValue::Word(w) => parse_retries(w),
        }
    }
}

#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, default)]
struct ConfigFile {
    concurrency: Option<usize>,
    rack_concurrency: Option<usize>,
    retries: Option<RetriesValue>,
    backoff_base_ms: Option<u64>,
    backoff_cap_ms: Option<u64>,
    max_failures: Option<usize>,
    timeouts: HashMap<String, u64>,
    seed: Option<u64>,
    provisioner: Option<session::ProvisionerConfig>,
}

/// `90m`, `30s`, `2h`, or plain seconds.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
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
    /// The settings file, if one is given.
    fn file(&self) -> Result<Option<ConfigFile>, CliError> {
        let Some(p) = &self.config else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(p).map_err(|e| {
            CliError::new(
                format!("{}: {e}", p.display()),
                "give a readable settings file",
            )
        })?;
        serde_saphyr::from_str(&text).map(Some).map_err(|e| {
            CliError::new(
                format!("{}: {e}", p.display()),
                "see README, \"Applying\", for the settings",
            )
        })
    }

    /// The settings file's `provisioner:` section, if any.
    pub fn provisioner(&self) -> Result<Option<session::ProvisionerConfig>, CliError> {
        Ok(self.file()?.and_then(|c| c.provisioner))
    }

    pub fn settings(&self) -> Result<Settings, CliError> {
        let mut s = Settings::default();
        if let (Some(p), Some(c)) = (&self.config, self.file()?) {
            s.concurrency = c.concurrency.unwrap_or(s.concurrency);
            s.rack_concurrency = c.rack_concurrency.unwrap_or(s.rack_concurrency);
            if let Some(r) = &c.retries {
                s.retries = r.count().map_err(|e| {
                    CliError::new(
                        format!("{}: retries: {e}", p.display()),
                        "give a number of retries, or 0 or `forever` for no limit",
                    )
                })?;
            }
            if let Some(b) = c.backoff_base_ms {
                s.backoff.base = Duration::from_millis(b);
            }
            if let Some(b) = c.backoff_cap_ms {
                s.backoff.cap = Duration::from_millis(b);
            }
            s.max_failures = c.max_failures.or(s.max_failures);
            s.seed = c.seed.unwrap_or(s.seed);
            for (k, v) in c.timeouts {
                let step = StepKind::parse(&k).ok_or_else(|| {
                    CliError::new(
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
                .and_then(|(k, v)| Some((StepKind::parse(k)?, parse_duration(v)?)));
            let (k, d) = parsed.ok_or_else(|| {
                CliError::new(
                    format!("--timeout {t}: expected STEP=DURATION, e.g. deploy=90m"),
                    "step names are those of `drydock plan --json`",
                )
            })?;
            s.timeouts.insert(k, d);
        }
        Ok(s)
    }
}

pub fn run(mut a: Args) -> CliResult {
    let rt = session::runtime(true);
    let signals = install_signals(&rt)?;
    let settings = a.run.settings()?;
    if let Some(c) = a.run.provisioner()? {
        a.plan.provisioner.fill_from(&c);
    }
    // A single path that is a saved plan: apply exactly it, if still fresh.
    if let [p] = a.paths.as_slice()
        && SavedPlan::looks_like(p)
    {
        let saved = SavedPlan::read(p).map_err(|e| {
            CliError::new(
                e,
                "give a plan saved by `drydock plan --out FILE`, or a design",
            )
        })?;
        let mut pa = a.plan.clone();
        pa.state = Some(saved.state.clone());
        pa.target = saved.plan.targets.clone();
        pa.destroy_removed = saved.plan.destroy_removed;
        let (mut planned, lock) = locked_plan(&saved.paths, &pa, &rt)?;
        saved
            .plan
            .check_fresh(&planned.loaded.design.content_hash(), &planned.observed)
            .map_err(|stale| {
                CliError::new(
                    format!("the saved plan {} is stale: {stale}", p.display()),
                    format!(
                        "run `drydock plan --out {}` again and review the new plan",
                        p.display()
                    ),
                )
            })?;
        planned.plan = saved.plan;
        crate::plan::desired::restore_secrets(&mut planned.plan, &planned.loaded.site);
        return execute_plan(planned, lock, &a.plan, &a.run, settings, &rt, signals);
    }
    let (planned, lock) = locked_plan(&a.paths, &a.plan, &rt)?;
    execute_plan(planned, lock, &a.plan, &a.run, settings, &rt, signals)
}

fn install_signals(rt: &tokio::runtime::Runtime) -> Result<Signals, CliError> {
    Signals::install(rt).map_err(|e| {
        CliError::new(
            format!("cannot install the signal handlers: {e}"),
            "this is a bug or an unusual system; report it",
        )
    })
}

pub fn destroy(mut a: DestroyArgs) -> CliResult {
    let rt = session::runtime(true);
    let signals = install_signals(&rt)?;
    let settings = a.run.settings()?;
    if let Some(c) = a.run.provisioner()? {
        a.plan.provisioner.fill_from(&c);
    }
    let (mut planned, lock) = locked_plan(&a.design, &a.plan, &rt)?;
    for n in &a.nodes {
        if planned.loaded.site.node(n).is_some() {
            eprintln!(
                "warning: node {n} is still in the design: the next apply will deploy it again (remove it from the design, and apply with --destroy-removed, to retire it)"
            );
        }
    }
    planned.plan = crate::plan::destroy(
        &planned.loaded.site,
        &planned.observed,
        &a.nodes,
        &planned.loaded.design.content_hash(),
    )
    .map_err(|e| CliError::new(e, "`drydock status` lists the nodes the provisioner knows"))?;
    execute_plan(planned, lock, &a.plan, &a.run, settings, &rt, signals)
}

/// Load the design (once), take the site lock, open the state and plan.
fn locked_plan(
    paths: &[PathBuf],
    a: &PlanArgs,
    rt: &tokio::runtime::Runtime,
) -> Result<(Planned, crate::state::lock::SiteLock), CliError> {
    // The lock is taken before the state is opened, so a second apply fails at once with the
    // holder's name instead of waiting on the database.
    let loaded = session::load_for(paths, &a.design, a.color, a.provisioner.catalog()?)?;
    let dir = session::state_dir(a.state.as_deref(), &loaded.site);
    let lock = take_lock(&dir, "drydock apply")?;
    let s = session::open_write_with(&dir, a.sim.config(&loaded.site)?, a.database.as_deref(), rt)?;
    let planned = crate::cli::plan::make(loaded, s, a, rt)?;
    Ok((planned, lock))
}

/// Take the site lock for a command that writes the state, or say who holds it and what to do.
pub fn take_lock(
    dir: &std::path::Path,
    command: &str,
) -> Result<crate::state::lock::SiteLock, CliError> {
    let lock = match crate::state::lock::acquire(dir, command) {
        Ok(l) => l,
        Err(crate::state::lock::LockError::Held(h)) => {
            // A holder on this host is alive (a dead one's lock was taken over): only waiting
            // helps. One on another host may be gone; only its operator can tell.
            let help = if h.host == crate::state::lock::hostname() {
                "wait for it to finish (`drydock status` shows its progress)".to_string()
            } else {
                format!(
                    "wait for it to finish; if that process on {} is gone for good, run `drydock force-unlock --state {} --force`",
                    h.host,
                    dir.display()
                )
            };
            return Err(CliError::new(
                format!("another drydock is applying to this site: {h}"),
                help,
            ));
        }
        Err(e) => return Err(CliError::new(e, "check the state directory's permissions")),
    };
    if let Some(h) = &lock.took_over {
        eprintln!("note: took over the site lock left by {h}, which is no longer running");
    }
    Ok(lock)
}

/// Ask on the terminal; `Err(signal)` when a signal came first.
fn confirm(rt: &tokio::runtime::Runtime, signals: &mut Signals) -> Result<bool, i32> {
    eprint!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let _ = std::io::stderr().flush();
    if let Some(n) = signals.received() {
        return Err(n);
    }
    rt.block_on(async {
        let read = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim() == "yes"
        });
        tokio::select! {
            yes = read => Ok(yes.unwrap_or(false)),
            n = signals.recv() => Err(n),
        }
    })
}

/// Make the journal's and the world's logs say they are complete up to here.
fn checkpoint(s: &session::Session) -> Result<(), CliError> {
    s.checkpoint()
        .map_err(|e| session::store_error(&s.state_dir, e))?;
    s.sim.checkpoint().map_err(|e| {
        CliError::new(
            e,
            "the simulator's world could not be written; check the state directory",
        )
    })
}

/// Under MAAS without `--signal-listen`: refuse a plan that deploys a node with a signaling
/// boot action before anything is done (nothing would collect its signal).
fn check_signals(plan: &crate::plan::Plan) -> Result<(), CliError> {
    use crate::plan::Action;
    for n in &plan.nodes {
        if !matches!(n.action, Action::Deploy | Action::Redeploy) {
            continue;
        }
        let Some(d) = &n.desired else { continue };
        if let Some(a) = d.boot_actions.iter().find(|a| a.signaling) {
            return Err(CliError::new(
                format!(
                    "boot action {} of {} is signaling, and nothing would collect its signal",
                    a.name, n.node
                ),
                "pass --signal-listen ADDR:PORT (an address the deployed nodes reach; --signal-url if they reach it by another name) so drydock waits for the signals, or set `signaling: false` on the boot action",
            ));
        }
    }
    Ok(())
}

fn execute_plan(
    planned: Planned,
    lock: crate::state::lock::SiteLock,
    pa: &PlanArgs,
    ra: &RunArgs,
    settings: Settings,
    rt: &tokio::runtime::Runtime,
    mut signals: Signals,
) -> CliResult {
    let color = pa.color.enabled();
    let plan = &planned.plan;
    out!("{}", render::human(plan, &render::Style { color }));
    // Facts the world proves and the journal missed (a crash between a deploy's "done" and its
    // record) are recorded first, even when there is nothing else to do: they change nothing
    // in the world, only what drydock remembers of it.
    {
        let s = &planned.session;
        rt.block_on(execute::record_unrecorded(
            s.store().as_ref(),
            &s.journal,
            plan,
        ))
        .map_err(|e| {
            CliError::new(
                e,
                "nothing was applied; check the state directory and retry",
            )
        })?;
    }
    if !plan.has_changes() {
        let s = &planned.session;
        rt.block_on(execute::close_interrupted(s.store().as_ref(), &s.journal))
            .map_err(|e| CliError::new(e, "check the state directory and retry"))?;
        checkpoint(s)?;
        return Ok(exit::OK);
    }
    if pa.provisioner.kind() == session::ProvisionerKind::Maas && ra.signal_listen.is_none() {
        check_signals(plan)?;
    }
    if pa.provisioner.kind() != session::ProvisionerKind::Maas && ra.signal_listen.is_some() {
        return Err(CliError::new(
            "--signal-listen is for --provisioner maas",
            "drop it: the PXE provisioner's boot service (--boot-config) takes the signals itself, and the simulator needs none",
        ));
    }
    // A saved plan was reviewed when it was made, but applying it changes machines all the
    // same: it is confirmed like a design.
    if !ra.auto_approve {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::new(
                "refusing to apply without confirmation",
                "pass --auto-approve (standard input is not a terminal)",
            ));
        }
        match confirm(rt, &mut signals) {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("Apply cancelled.");
                return Ok(exit::OK);
            }
            Err(n) => {
                eprintln!("\nApply cancelled by {}.", signals::name(n));
                return Ok(signals::exit_code(n));
            }
        }
    }
    let s = &planned.session;
    let pxe = pa.provisioner.kind() == session::ProvisionerKind::Pxe;
    let maas = match pa.provisioner.kind() {
        session::ProvisionerKind::Maas => Some(pa.provisioner.maas()?),
        _ => None,
    };
    let bmc = bmc(ra.bmc, ra.bmc_ca_bundle.clone(), pxe)?;
    // The PXE provisioner's boot service runs for as long as the apply does.
    let boot = if pxe {
        Some(crate::cli::boot_service::start_for_apply(
            &planned.loaded.site,
            &s.state_dir,
            &pa.provisioner,
            rt,
        )?)
    } else {
        None
    };
    // Under MAAS the boot-action API alone runs for as long as the apply does, when asked for.
    let signal_api = match (&maas, ra.signal_listen) {
        (Some(m), Some(listen)) => {
            let r = rt.block_on(crate::cli::boot_service::start_signals(
                &planned.loaded.site,
                &s.state_dir,
                listen,
                ra.signal_url.clone(),
            ))?;
            m.set_signals(Some(r.service.state.clone()));
            eprintln!(
                "boot-action API listening on {} (nodes signal to {})",
                r.service.addr,
                r.service.state.config.url()
            );
            Some(r)
        }
        _ => None,
    };
    let drivers = match maas.clone() {
        Some(m) => crate::service::maas_drivers(m),
        None => {
            crate::service::drivers(s.sim.clone(), &bmc, boot.as_ref().map(|b| b.pxe()).as_ref())
        }
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
    let got = signals.handle();
    let result = rt.block_on(async {
        let ui = tokio::spawn(progress::show(rx, mode, total_nodes));
        let cancelling = |n: i32| {
            eprintln!(
                "\n{} received: cancelling; in-flight steps are abandoned, the journal stays consistent; run apply again to resume",
                signals::name(n)
            );
        };
        // A signal that came while the design loaded or the plan was made is waiting here:
        // the apply is cancelled before its first task, and the journal says so.
        let early = tokio::select! {
            biased;
            n = signals.recv() => Some(n),
            _ = async {} => None,
        };
        if let Some(n) = early {
            cancelling(n);
            let _ = cancel_tx.send(true);
        }
        let ctrl_c = tokio::spawn(async move {
            if early.is_none() {
                let n = signals.recv().await;
                cancelling(n);
                let _ = cancel_tx.send(true);
            }
            // Keep the handlers installed (a second signal must not kill the process while
            // the cancellation is journaled).
            std::future::pending::<()>().await;
        });
        let r = execute::run(execute::Apply {
            plan,
            journal: &s.journal,
            store: s.store(),
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
    if let Some(b) = boot {
        rt.block_on(b.stop());
    }
    if let Some(b) = signal_api {
        if let Some(m) = &maas {
            m.set_signals(None);
        }
        rt.block_on(b.stop());
    }
    let result = result.map_err(|e| {
        CliError::new(
            e,
            "nothing recorded was lost; run apply again to resume once the cause is fixed",
        )
    })?;
    // Under the lock: the next apply starts from a checkpointed journal.
    checkpoint(&planned.session)?;
    let mut planned = planned;
    if let Some(l) = planned.session.lease.take() {
        rt.block_on(l.release());
    }
    drop(lock);
    out!("{}", progress::summary(&result, color));
    let signal = got.load(std::sync::atomic::Ordering::SeqCst);
    Ok(match result.outcome {
        Outcome::Success => exit::OK,
        Outcome::Cancelled if signal != 0 => signals::exit_code(signal),
        Outcome::Cancelled => exit::CANCELLED,
        Outcome::Partial | Outcome::Failure => exit::ERROR,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_a_number_or_0_or_forever_for_no_limit() {
        assert_eq!(parse_retries("0"), Ok(crate::execute::RETRY_FOREVER));
        assert_eq!(parse_retries("7"), Ok(7));
        assert_eq!(parse_retries("forever"), Ok(crate::execute::RETRY_FOREVER));
        for bad in ["-1", "lots", "", "4294967296", "Forever"] {
            let e = parse_retries(bad).unwrap_err();
            assert!(e.contains("forever") && e.contains("timeout"), "{e}");
        }
        let file: ConfigFile = serde_saphyr::from_str("retries: forever\n").unwrap();
        assert_eq!(
            file.retries.unwrap().count(),
            Ok(crate::execute::RETRY_FOREVER)
        );
        let file: ConfigFile = serde_saphyr::from_str("retries: 0\n").unwrap();
        assert_eq!(
            file.retries.unwrap().count(),
            Ok(crate::execute::RETRY_FOREVER)
        );
        let file: ConfigFile = serde_saphyr::from_str("retries: 3\n").unwrap();
        assert_eq!(file.retries.unwrap().count(), Ok(3));
    }
}

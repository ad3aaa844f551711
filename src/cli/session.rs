//! What `plan`, `apply`, `status` and `tasks` share: loading and validating the design, the
//! state directory, the state store and its journal, the simulator, observing the site.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::{ColorChoice, exit, usage_error};
use crate::design::Design;
use crate::driver::sim::{Fault, SimConfig, Simulator};
use crate::model::Site;
use crate::model::observed::Observed;
use crate::state::sled_store::SledStore;
use crate::state::{Journal, StateStore};
use crate::validate::Valid;

/// Simulator settings from the command line (over `--sim-config FILE`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SimArgs {
    /// Simulator settings file (YAML: latency_ms, time_scale, transient_rate, fail, hang, seed)
    #[arg(long, value_name = "FILE")]
    pub sim_config: Option<PathBuf>,
    /// Multiply the simulator's step latencies (0: instant)
    #[arg(long, value_name = "F")]
    pub sim_time_scale: Option<f64>,
    /// Probability that a simulated call fails with a transient error
    #[arg(long, value_name = "P")]
    pub sim_transient_rate: Option<f64>,
    /// Make a node (or NODE:STEP, or :STEP) fail permanently (repeatable)
    #[arg(long, value_name = "NODE[:STEP]")]
    pub sim_fail: Vec<String>,
    /// Make a node's step hang (repeatable)
    #[arg(long, value_name = "NODE[:STEP]")]
    pub sim_hang: Vec<String>,
    /// Seed of the simulator's random draws
    #[arg(long, value_name = "N")]
    pub sim_seed: Option<u64>,
}

impl SimArgs {
    pub fn config(&self) -> Result<SimConfig, u8> {
        let mut c = match &self.sim_config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    usage_error(
                        format!("{}: {e}", p.display()),
                        "give a readable simulator settings file",
                    )
                })?;
                SimConfig::from_yaml(&text).map_err(|e| {
                    usage_error(
                        format!("{}: {e}", p.display()),
                        "see README, \"The simulator\", for the settings",
                    )
                })?
            }
            None => SimConfig::default(),
        };
        if let Some(s) = self.sim_time_scale {
            c.time_scale = s;
        }
        if let Some(r) = self.sim_transient_rate {
            c.transient_rate = r;
        }
        if let Some(s) = self.sim_seed {
            c.seed = s;
        }
        c.fail.extend(self.sim_fail.iter().map(|f| Fault::parse(f)));
        c.hang.extend(self.sim_hang.iter().map(|f| Fault::parse(f)));
        Ok(c)
    }
}

pub struct Loaded {
    pub paths: Vec<PathBuf>,
    pub design: Design,
    pub site: Valid<Site>,
}

/// Load and validate a design; on errors print the diagnostics and return exit 1.
pub fn load(paths: &[PathBuf], color: ColorChoice) -> Result<Loaded, u8> {
    load_with(
        paths,
        &crate::cli::design_args::DesignArgs::default(),
        color,
    )
}

/// [`load`] with `--site` and `--strict`. `Loaded::paths` name the same design without
/// `--site` (see `DesignArgs::effective_paths`).
pub fn load_with(
    paths: &[PathBuf],
    args: &crate::cli::design_args::DesignArgs,
    color: ColorChoice,
) -> Result<Loaded, u8> {
    let paths = &args.effective_paths(paths)?;
    let design = crate::cli::design_args::load(paths, &args.options())?;
    let options = crate::validate::Options {
        catalog: Some(Simulator::catalog()),
        ..Default::default()
    };
    let report = crate::validate::validate(&design, &options);
    let errors = report.errors();
    let findings = report.findings.clone();
    match report.into_valid() {
        Ok(site) => Ok(Loaded {
            paths: paths.to_vec(),
            design,
            site,
        }),
        Err(_) => {
            let input = crate::report::Input {
                design: &design,
                findings: &findings,
                rules_run: &[],
                deny_warnings: false,
            };
            let on = color.enabled();
            eprint!(
                "{}",
                crate::report::human::render(
                    &input,
                    &crate::report::human::Style {
                        color: on,
                        unicode: on,
                        width: 100
                    }
                )
            );
            eprintln!(
                "error: the design has {}; fix {} first\n  help: `drydock validate` shows the same diagnostics",
                crate::report::plural(errors, "error"),
                if errors == 1 { "it" } else { "them" }
            );
            Err(exit::FINDINGS)
        }
    }
}

/// The default state directory of a site: `.drydock/<site>` in the current directory.
pub fn default_state_dir(site: &str) -> PathBuf {
    let safe: String = site
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Path::new(".drydock").join(if safe.is_empty() {
        "site".to_string()
    } else {
        safe
    })
}

pub fn state_dir(arg: Option<&Path>, site: &Site) -> PathBuf {
    arg.map(Path::to_path_buf)
        .unwrap_or_else(|| default_state_dir(site.region().map_or("site", |r| r.name.v.as_str())))
}

/// The open state of a site.
pub struct Session {
    pub state_dir: PathBuf,
    pub store: Arc<SledStore>,
    pub journal: Journal,
    pub sim: Arc<Simulator>,
}

/// Open the state store and the simulator in `state_dir`, and replay the journal.
pub fn open(state_dir: &Path, sim: SimConfig) -> Result<Session, u8> {
    let busy = |e: String| {
        // Our own lock (an apply that holds it but cannot open the store) is not the cause.
        let holder = crate::state::lock::holder(state_dir)
            .filter(|h| h.pid != std::process::id())
            .map(|h| format!(" (site lock held by {h})"))
            .unwrap_or_default();
        eprintln!(
            "error: {e}{holder}\n  help: another drydock may be using {}; wait for it, or see `drydock force-unlock`",
            state_dir.display()
        );
        exit::FINDINGS
    };
    let store = SledStore::open(state_dir).map_err(|e| busy(e.to_string()))?;
    let records = store.records().map_err(|e| busy(e.to_string()))?;
    let journal = Journal::replay(records).map_err(|e| {
        eprintln!("error: the journal in {} cannot be replayed: {e}\n  help: the state directory is damaged; keep a copy and report it", state_dir.display());
        exit::FINDINGS
    })?;
    let sim = Simulator::open(state_dir, sim).map_err(|e| busy(e.to_string()))?;
    Ok(Session {
        state_dir: state_dir.to_path_buf(),
        store: Arc::new(store),
        journal,
        sim: Arc::new(sim),
    })
}

/// Observe the site through the provisioner and the journal.
pub async fn observe(s: &Session, site: &Site) -> Result<Observed, u8> {
    crate::observe::gather(site, s.sim.as_ref(), &s.journal).await.map_err(|e| {
        eprintln!("error: cannot observe the site: {e}\n  help: check that the provisioner is reachable and retry");
        exit::FINDINGS
    })
}

/// A current-thread runtime is enough for plan and status; apply uses every core.
pub fn runtime(multi: bool) -> tokio::runtime::Runtime {
    let mut b = if multi {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    b.enable_all()
        .build()
        .expect("a tokio runtime can be built")
}

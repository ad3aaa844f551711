//! What `plan`, `apply`, `status` and `tasks` share: loading and validating the design, the
//! state directory, the state store and its journal, the simulator, observing the site.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::{CliError, ColorChoice};
use crate::design::Design;
use crate::driver::sim::{Fault, SimConfig, Simulator};
use crate::model::Site;
use crate::model::observed::Observed;
use crate::state::file_store::FileStore;
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
    /// The simulator's settings; every fault must name a node of `site` and a step.
    pub fn config(&self, site: &Site) -> Result<SimConfig, CliError> {
        let mut c = match &self.sim_config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    CliError::new(
                        format!("{}: {e}", p.display()),
                        "give a readable simulator settings file",
                    )
                })?;
                SimConfig::from_yaml(&text).map_err(|e| {
                    CliError::new(
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
        let nodes: Vec<&str> = site.nodes.iter().map(|n| n.name.v.as_str()).collect();
        c.check_faults(&nodes).map_err(|e| {
            CliError::new(e, "name a node of the design and one of the steps listed")
        })?;
        Ok(c)
    }
}

/// Who provisions the machines.
#[derive(clap::ValueEnum, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProvisionerKind {
    /// The embedded simulator (nothing boots).
    #[default]
    Sim,
    /// drydock itself: its boot service (dnsmasq, iPXE, HTTP) and the nodes' BMCs.
    Pxe,
    /// A MAAS region (--maas-url, --maas-key), which also drives the machines' power.
    Maas,
}

/// `provisioner:` in the executor's settings file (`--config`): what the flags say wins.
#[derive(serde::Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ProvisionerConfig {
    #[serde(rename = "type")]
    pub kind: ProvisionerKind,
    /// MAAS: its URL.
    pub url: Option<String>,
    /// MAAS: the key's reference (`env:NAME`, `file:PATH`).
    pub api_key: Option<String>,
    /// MAAS: the poll interval.
    pub poll_ms: Option<u64>,
    /// PXE: the boot service's settings file.
    pub boot_config: Option<PathBuf>,
}

/// `--provisioner` and `--boot-config`, shared by plan, apply, destroy and status.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ProvisionerArgs {
    /// Who provisions the machines: the embedded simulator, or drydock's own PXE boot service
    /// (needs --boot-config; drives the real BMCs)
    /// [default: sim]
    #[arg(long, value_enum, env = "DRYDOCK_PROVISIONER")]
    pub provisioner: Option<ProvisionerKind>,
    /// The boot service's settings (YAML: listen, dhcp, agent, images; README, "drydock as
    /// the provisioner")
    #[arg(long, value_name = "FILE", env = "DRYDOCK_BOOT_CONFIG")]
    pub boot_config: Option<PathBuf>,
    /// The MAAS URL, e.g. http://HOST:5240/MAAS (--provisioner maas)
    #[arg(long, value_name = "URL", env = "DRYDOCK_MAAS_URL")]
    pub maas_url: Option<String>,
    /// The MAAS API key (consumer:token:secret) as a reference: env:NAME or file:PATH, never
    /// the key itself
    #[arg(long, value_name = "REF", env = "DRYDOCK_MAAS_KEY")]
    pub maas_key: Option<String>,
    /// How often a waiting MAAS step polls (one machine list per interval for all nodes)
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 5000,
        env = "DRYDOCK_MAAS_POLL_MS"
    )]
    pub maas_poll_ms: u64,
    /// CA bundle (PEM) for the MAAS URL's certificate (https)
    #[arg(long, value_name = "FILE")]
    pub maas_ca_bundle: Option<PathBuf>,
    /// Do not verify the MAAS certificate (warned about)
    #[arg(long)]
    pub maas_insecure: bool,
    /// A commissioning parameter for MAAS, e.g. testing_scripts=none or skip_bmc_config=1
    /// (repeatable)
    #[arg(long, value_name = "KEY=VALUE")]
    pub maas_commission: Vec<String>,
}

impl ProvisionerArgs {
    /// The boot service's settings; an error when none are given.
    pub fn boot_config(&self) -> Result<crate::boot::BootConfig, CliError> {
        let p = self.boot_config.as_ref().ok_or_else(|| {
            CliError::new(
                "the PXE boot service needs its settings",
                "pass --boot-config FILE (or set DRYDOCK_BOOT_CONFIG); README, \"drydock as the provisioner\", shows one",
            )
        })?;
        crate::boot::BootConfig::load(p).map_err(|e| {
            CliError::new(
                format!("the boot config {e}"),
                "fix the file; README, \"drydock as the provisioner\", lists its settings",
            )
        })
    }

    /// Who provisions: the flag (or its environment variable), else the simulator.
    pub fn kind(&self) -> ProvisionerKind {
        self.provisioner.unwrap_or_default()
    }

    /// Fill what the flags left unset from a `provisioner:` section of the settings file.
    pub fn fill_from(&mut self, c: &ProvisionerConfig) {
        if self.provisioner.is_none() {
            self.provisioner = Some(c.kind);
        }
        if self.maas_url.is_none() {
            self.maas_url = c.url.clone();
        }
        if self.maas_key.is_none() {
            self.maas_key = c.api_key.clone();
        }
        if self.boot_config.is_none() {
            self.boot_config = c.boot_config.clone();
        }
        if let Some(ms) = c.poll_ms
            && self.maas_poll_ms == 5000
        {
            self.maas_poll_ms = ms;
        }
    }

    /// The MAAS driver's settings; an error when the URL or the key is missing.
    pub fn maas_options(&self) -> Result<crate::driver::maas::MaasOptions, CliError> {
        let (Some(url), Some(key)) = (&self.maas_url, &self.maas_key) else {
            return Err(CliError::new(
                "--provisioner maas needs the MAAS URL and API key",
                "pass --maas-url http://HOST:5240/MAAS --maas-key env:NAME (or file:PATH) naming the consumer:token:secret key",
            ));
        };
        let key = crate::vocab::Secret::new(key.clone());
        if key.reference().is_none() {
            return Err(CliError::new(
                "--maas-key must be a reference (env:NAME or file:PATH), not the key itself",
                "put the key in an environment variable or a file readable only by you, and pass env:NAME or file:PATH",
            ));
        }
        let mut o = crate::driver::maas::MaasOptions::new(url, key);
        o.poll = std::time::Duration::from_millis(self.maas_poll_ms.max(1));
        o.client.ca_bundle = self.maas_ca_bundle.clone();
        o.client.insecure = self.maas_insecure;
        for kv in &self.maas_commission {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                CliError::new(
                    format!("--maas-commission {kv}: expected KEY=VALUE"),
                    "e.g. --maas-commission testing_scripts=none (MAAS's commission parameters)",
                )
            })?;
            o.commission.push((k.to_string(), v.to_string()));
        }
        Ok(o)
    }

    /// The MAAS driver (for `--provisioner maas`): one per process, so the machines observed
    /// for the plan are the ones the apply polls (one machine list serves them all).
    pub fn maas(&self) -> Result<Arc<crate::driver::maas::Maas>, CliError> {
        static ONE: std::sync::Mutex<Option<(String, Arc<crate::driver::maas::Maas>)>> =
            std::sync::Mutex::new(None);
        let o = self.maas_options()?;
        let id = format!("{} {:?} {:?}", o.url, o.key, o.poll);
        let mut one = ONE.lock().expect("maas lock");
        if let Some((have, m)) = one.as_ref()
            && *have == id
        {
            return Ok(m.clone());
        }
        let m = crate::driver::maas::Maas::new(o).map(Arc::new).map_err(|e| {
            CliError::new(
                e,
                "check --maas-url and --maas-key (the reference must name the consumer:token:secret key)",
            )
        })?;
        *one = Some((id, m.clone()));
        Ok(m)
    }

    /// The images and kernels the provisioner offers (rule DD3001).
    pub fn catalog(&self) -> Result<crate::vocab::Catalog, CliError> {
        Ok(match self.kind() {
            ProvisionerKind::Sim => Simulator::catalog(),
            ProvisionerKind::Pxe => self.boot_config()?.catalog(),
            ProvisionerKind::Maas => {
                let maas = self.maas()?;
                // On a thread of its own: callers may or may not be inside a runtime.
                let got = std::thread::spawn(move || runtime(false).block_on(maas.catalog()))
                    .join()
                    .map_err(|_| CliError::new("reading the MAAS catalogue failed", "retry"))?;
                got.map_err(|e| {
                    CliError::new(
                        format!("cannot read MAAS's boot resources: {e}"),
                        "check that MAAS answers at --maas-url and that the key is an admin's",
                    )
                })?
            }
        })
    }

    /// The observing provisioner for a session, when it is not the simulator.
    pub fn observer(
        &self,
        state_dir: &Path,
    ) -> Result<Option<Arc<dyn crate::driver::Provisioner>>, CliError> {
        Ok(match self.kind() {
            ProvisionerKind::Sim => None,
            ProvisionerKind::Pxe => Some(Arc::new(
                crate::driver::pxe::Pxe::observer(state_dir)
                    .map_err(|e| store_error_text(state_dir, e))?,
            )),
            ProvisionerKind::Maas => Some(self.maas()?),
        })
    }
}

fn store_error_text(state_dir: &Path, e: String) -> CliError {
    CliError::new(
        e,
        format!(
            "check that {} is readable; `drydock state verify` checks the journal",
            state_dir.display()
        ),
    )
}

pub struct Loaded {
    pub paths: Vec<PathBuf>,
    pub design: Design,
    pub site: Valid<Site>,
}

/// Load and validate a design; on errors print the diagnostics and fail with exit 1.
pub fn load(paths: &[PathBuf], color: ColorChoice) -> Result<Loaded, CliError> {
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
) -> Result<Loaded, CliError> {
    load_for(paths, args, color, Simulator::catalog())
}

/// [`load_with`], checking images and kernels against `catalog` (the provisioner's).
pub fn load_for(
    paths: &[PathBuf],
    args: &crate::cli::design_args::DesignArgs,
    color: ColorChoice,
    catalog: crate::vocab::Catalog,
) -> Result<Loaded, CliError> {
    let paths = &args.effective_paths(paths)?;
    let design = crate::cli::design_args::load(paths, &args.options())?;
    // A design that is missing parts (a file or directory that could not be read) is never
    // planned or applied: `--destroy-removed` would destroy the nodes it lost.
    if !design.is_complete() {
        let unread: Vec<String> = design
            .unread
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(CliError::new(
            format!(
                "part of the design could not be read: {}",
                unread.join(", ")
            ),
            "make every file and directory of the design readable, then run the command again",
        ));
    }
    let options = crate::validate::Options {
        catalog: Some(catalog),
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
            Err(CliError::new(
                format!(
                    "the design has {}; fix {} first",
                    crate::report::plural(errors, "error"),
                    if errors == 1 { "it" } else { "them" }
                ),
                "`drydock validate` shows the same diagnostics",
            ))
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

/// The state of a site: the journal, the simulator's world, and whether an apply holds it.
pub struct Session {
    pub state_dir: PathBuf,
    /// The journal open for appending (apply and destroy only, under the site lock).
    pub store: Option<Arc<dyn StateStore>>,
    /// The same journal when it is the file store (its checkpoints are the CLI's to make).
    pub file: Option<Arc<FileStore>>,
    /// With a database: the lease this command holds, renewed until it is released.
    pub lease: Option<Lease>,
    pub journal: Journal,
    pub sim: Arc<Simulator>,
    /// Whether the state directory holds a journal: `false` means nothing was ever applied
    /// from here (or `--state` names the wrong place).
    pub exists: bool,
    /// The apply that holds the site lock now, if any (for a read session).
    pub running: Option<crate::state::lock::Holder>,
    /// The provisioner observed instead of the simulator (`--provisioner pxe`).
    pub observer: Option<Arc<dyn crate::driver::Provisioner>>,
}

impl Session {
    /// The journal for appending (apply and destroy open their session with one).
    pub fn store(&self) -> Arc<dyn StateStore> {
        self.store.clone().expect("a write session has its store")
    }

    /// Make the journal say it is complete up to here (the file store; the database needs
    /// nothing).
    pub fn checkpoint(&self) -> Result<(), crate::state::StoreError> {
        match &self.file {
            Some(f) => f.checkpoint(),
            None => Ok(()),
        }
    }
}

/// The lease a command-line apply holds on a database, renewed every third of its time to
/// live until released (or the process ends, after which it expires, or the next apply on
/// this host sees the process gone and takes it over).
pub struct Lease {
    client: Arc<tokio_postgres::Client>,
    token: u64,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

impl Lease {
    pub async fn release(self) {
        self.heartbeat.abort();
        let _ = crate::state::lease::release(&self.client, self.token).await;
    }
}

/// How long a command-line apply's lease lasts without a heartbeat.
const CLI_LEASE: std::time::Duration = std::time::Duration::from_secs(10);

fn db_error(e: crate::state::StoreError) -> CliError {
    CliError::new(
        e,
        "check the connection string (--database or DRYDOCK_DATABASE) and that the database is reachable",
    )
}

/// Take the lease for a command-line apply: free, expired, or left by an apply on this host
/// whose process is gone; otherwise say who holds it.
async fn take_lease(url: &str) -> Result<(u64, Lease, Option<String>), CliError> {
    use crate::state::lease;
    let client = Arc::new(
        crate::state::postgres::connect(url)
            .await
            .map_err(db_error)?,
    );
    let host = crate::state::lock::hostname();
    let me = lease::cli_holder(std::process::id(), &host);
    let mut took_over = None;
    let token = match lease::try_acquire(&client, &me, "", CLI_LEASE)
        .await
        .map_err(db_error)?
    {
        Some(t) => t,
        None => {
            let held = lease::current(&client).await.map_err(db_error)?;
            let dead = lease::parse_cli_holder(&held.holder)
                .is_some_and(|(pid, h)| h == host && !crate::state::lock::alive(pid));
            let stolen = if dead {
                lease::take_over(&client, &held, &me, "", CLI_LEASE)
                    .await
                    .map_err(db_error)?
            } else {
                None
            };
            match stolen {
                Some(t) => {
                    took_over = Some(held.holder.clone());
                    t
                }
                None => {
                    return Err(CliError::new(
                        format!(
                            "another drydock holds the database's lease: {} (for {} s more)",
                            held.holder,
                            held.expires_in_ms.max(0) / 1000
                        ),
                        "wait for it to finish (a `drydock serve` leader holds it while it runs: start the work through its API instead)",
                    ));
                }
            }
        }
    };
    let c = client.clone();
    let heartbeat = tokio::spawn(async move {
        loop {
            tokio::time::sleep(CLI_LEASE / 3).await;
            match lease::renew(&c, token, CLI_LEASE).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::error!(
                        "the database's lease was taken by another drydock: this apply's writes are refused from now on"
                    );
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "cannot renew the database's lease; retrying"),
            }
        }
    });
    Ok((
        token,
        Lease {
            client,
            token,
            heartbeat,
        },
        took_over,
    ))
}

/// [`open_write`] with the journal in PostgreSQL when `database` is given (the lease taken
/// first; its connection and heartbeat run on `rt`).
pub fn open_write_with(
    state_dir: &Path,
    sim: SimConfig,
    database: Option<&str>,
    rt: &tokio::runtime::Runtime,
) -> Result<Session, CliError> {
    let Some(url) = database else {
        return open_write(state_dir, sim);
    };
    let (store, lease) = rt.block_on(async {
        let (token, lease, took_over) = take_lease(url).await?;
        if let Some(h) = took_over {
            eprintln!(
                "note: took over the database's lease left by {h}, which is no longer running"
            );
        }
        let client = crate::state::postgres::connect(url)
            .await
            .map_err(db_error)?;
        let store = crate::state::postgres::PgStore::open(client, token)
            .await
            .map_err(db_error)?;
        Ok::<_, CliError>((store, lease))
    })?;
    let records = store.records().map_err(|e| store_error(state_dir, e))?;
    let journal = Journal::replay(records).map_err(|e| store_error(state_dir, e.into()))?;
    crate::state::create_dir(state_dir).map_err(|e| store_error(state_dir, e))?;
    let sim = Simulator::open(state_dir, sim).map_err(|e| world_error(state_dir, e))?;
    Ok(Session {
        state_dir: state_dir.to_path_buf(),
        store: Some(Arc::new(store)),
        file: None,
        lease: Some(lease),
        journal,
        sim: Arc::new(sim),
        exists: true,
        running: None,
        observer: None,
    })
}

/// [`open_read`] with the journal read from PostgreSQL when `database` is given.
pub fn open_read_with(
    state_dir: &Path,
    sim: SimConfig,
    database: Option<&str>,
) -> Result<Session, CliError> {
    let Some(url) = database else {
        return open_read(state_dir, sim);
    };
    let (records, holder) = runtime(false).block_on(async {
        let client = crate::state::postgres::connect(url)
            .await
            .map_err(db_error)?;
        let records = crate::state::postgres::read_from(&client, 0)
            .await
            .map_err(db_error)?;
        let lease = crate::state::lease::current(&client)
            .await
            .map_err(db_error)?;
        Ok::<_, CliError>((records, lease))
    })?;
    let exists = !records.is_empty();
    let journal = Journal::replay(records.into_iter().map(|(_, r)| r))
        .map_err(|e| store_error(state_dir, e.into()))?;
    let sim = Simulator::read_only(state_dir, sim).map_err(|e| world_error(state_dir, e))?;
    Ok(Session {
        state_dir: state_dir.to_path_buf(),
        store: None,
        file: None,
        lease: None,
        journal,
        sim: Arc::new(sim),
        exists,
        running: holder.held().then(|| crate::state::lock::Holder {
            pid: 0,
            host: holder.holder.clone(),
            started_ms: 0,
            command: "the database's lease".into(),
        }),
        observer: None,
    })
}

/// A state-store error, with what to do next.
pub fn store_error(state_dir: &Path, e: crate::state::StoreError) -> CliError {
    use crate::state::StoreError;
    let help = match &e {
        StoreError::Damaged { .. } | StoreError::Replay(_) => format!(
            "nothing was changed. Keep a copy (`drydock state backup DIR --state {d}`), see the damage with `drydock state verify --state {d}`, and start a new journal from what the provisioner reports with `drydock state rebuild DESIGN --state {d}`",
            d = state_dir.display()
        ),
        StoreError::Full(_) => {
            "free space on that disk (or move the state directory), then run the command again; nothing recorded was lost".into()
        }
        StoreError::Io(_) => format!(
            "check that {} is readable and writable by this user (or that the database is reachable), then run the command again",
            state_dir.display()
        ),
        StoreError::Fenced(_) => {
            "another drydock took the lease; nothing this one recorded after that was kept, and the new leader resumes the work".into()
        }
    };
    CliError::new(e, help)
}

fn world_error(state_dir: &Path, e: crate::driver::sim::world::WorldError) -> CliError {
    use crate::driver::sim::world::WorldError;
    match e {
        WorldError::Log(crate::durable::LogError::Damaged { path, what }) => store_error(
            state_dir,
            crate::state::StoreError::Damaged {
                path: path.display().to_string(),
                what,
            },
        ),
        WorldError::Log(crate::durable::LogError::Full(p)) => store_error(
            state_dir,
            crate::state::StoreError::Full(p.display().to_string()),
        ),
        WorldError::Corrupt(path, what) => store_error(
            state_dir,
            crate::state::StoreError::Damaged {
                path: path.display().to_string(),
                what,
            },
        ),
        other => CliError::new(
            other,
            format!("check that {} is readable", state_dir.display()),
        ),
    }
}

/// Open the state of a site for an apply: the caller holds the site lock. Creates the state
/// directory when there is none (only apply and destroy do).
pub fn open_write(state_dir: &Path, sim: SimConfig) -> Result<Session, CliError> {
    let store = FileStore::open(state_dir).map_err(|e| store_error(state_dir, e))?;
    let records = store.records().map_err(|e| store_error(state_dir, e))?;
    let journal = Journal::replay(records).map_err(|e| store_error(state_dir, e.into()))?;
    let sim = Simulator::open(state_dir, sim).map_err(|e| world_error(state_dir, e))?;
    let store = Arc::new(store);
    Ok(Session {
        state_dir: state_dir.to_path_buf(),
        store: Some(store.clone()),
        file: Some(store),
        lease: None,
        journal,
        sim: Arc::new(sim),
        exists: true,
        running: None,
        observer: None,
    })
}

/// Read the state of a site without writing anything, beside an apply that may be running:
/// a state directory that does not exist is read as empty (`Session::exists` says so).
pub fn open_read(state_dir: &Path, sim: SimConfig) -> Result<Session, CliError> {
    let records = FileStore::read(state_dir).map_err(|e| store_error(state_dir, e))?;
    let exists = records.is_some();
    let journal = Journal::replay(records.unwrap_or_default())
        .map_err(|e| store_error(state_dir, e.into()))?;
    let sim = Simulator::read_only(state_dir, sim).map_err(|e| world_error(state_dir, e))?;
    Ok(Session {
        state_dir: state_dir.to_path_buf(),
        store: None,
        file: None,
        lease: None,
        journal,
        sim: Arc::new(sim),
        exists,
        running: crate::state::lock::live_holder(state_dir),
        observer: None,
    })
}

/// The error of a command that reads the state of a site nothing was applied to.
pub fn no_state(state_dir: &Path) -> CliError {
    CliError::new(
        format!(
            "no state at {}: nothing has been applied from here",
            state_dir.display()
        ),
        "use --state DIR (or DRYDOCK_STATE) to name the site's state directory, or apply the design first",
    )
}

/// What a read command says first when an apply holds the state.
pub fn running_note(s: &Session) -> Option<String> {
    s.running.as_ref().map(|h| {
        if h.pid == 0 {
            // The database's lease (see `open_read_with`).
            format!(
                "note: {} holds the database's lease (an apply or a service is running); this shows the state as it stands now",
                h.host
            )
        } else {
            format!(
                "note: an apply is running on this site ({h}); this shows the state as it stands now"
            )
        }
    })
}

/// Observe the site through the provisioner and the journal.
pub async fn observe(s: &Session, site: &Site) -> Result<Observed, CliError> {
    let provisioner: &dyn crate::driver::Provisioner = match &s.observer {
        Some(p) => p.as_ref(),
        None => s.sim.as_ref(),
    };
    crate::observe::gather(site, provisioner, &s.journal)
        .await
        .map_err(|e| {
            CliError::new(
                format!("cannot observe the site: {e}"),
                "check that the provisioner is reachable and retry",
            )
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

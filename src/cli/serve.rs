//! `drydock serve DESIGN`: the operator API and the dashboard (`api`) over the service
//! (`service`) with `--tokens`, the PXE provisioner's boot service (`boot_service`) with
//! `--boot-config`, or both (the API's tasks then provision through the boot service).
//! Configured by flags and an optional YAML file (flags win): where to listen, the tokens
//! file, TLS, the state (a directory, or a PostgreSQL connection string), this instance's name
//! and address for the others, the lease, the boot config. SIGHUP, and a change of the design's
//! files, reload the boot service's design (the API reads the design at every request).
//! SIGINT and SIGTERM stop it cleanly: the running task is stopped as Ctrl-C stops an apply and
//! left for the next leader (or the next start) to resume, the lease released; exit code 0.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::apply::{BmcMode, RunArgs, parse_duration};
use crate::cli::boot_service::{self, Running};
use crate::cli::session::{self, ProvisionerArgs, ProvisionerKind, SimArgs};
use crate::cli::signals::{self, Signals};
use crate::cli::{CliError, CliResult, exit};
use crate::service::{Backend, Config};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The site's design (files or directories)
    #[arg(required = true, value_name = "DESIGN")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub design: crate::cli::design_args::DesignArgs,
    /// Service settings file (YAML: listen, tokens, tls: {cert, key}, state, database,
    /// instance, advertise, lease_ttl, audit_log, body_limit, peer_ca, executor_config)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address of the operator API and dashboard [default: 127.0.0.1:9000]
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// File of hashed tokens with roles (`drydock token` makes them); without it no operator
    /// API runs (only the boot service, with --boot-config)
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// The PXE boot service's settings (YAML; README, "drydock as the provisioner"): run the
    /// boot service too, and provision the API's tasks through it
    #[arg(long, value_name = "FILE", env = "DRYDOCK_BOOT_CONFIG")]
    pub boot_config: Option<PathBuf>,
    /// Seconds between checks of the design's files for changes, for the boot service
    /// (0: only on SIGHUP)
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub watch: u64,
    /// TLS certificate chain (PEM); with --tls-key, the API is served over HTTPS
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// State directory (the simulator's world; the journal too without --database)
    #[arg(long, value_name = "DIR", env = "DRYDOCK_STATE")]
    pub state: Option<PathBuf>,
    /// PostgreSQL connection string for the journal (or env:NAME, file:PATH holding it);
    /// instances on one database elect a leader
    #[arg(long, value_name = "URL", env = "DRYDOCK_DATABASE")]
    pub database: Option<String>,
    /// This instance's name in the lease [default: HOST-PID]
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    /// The URL other instances forward writes to [default: from --listen]
    #[arg(long, value_name = "URL")]
    pub advertise: Option<String>,
    /// How long the lease lasts without a heartbeat [default: 10s]
    #[arg(long, value_name = "DURATION")]
    pub lease_ttl: Option<String>,
    /// Audit log of every write (JSON lines) [default: STATE/audit.log]
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Executor settings file, as `apply --config`
    #[arg(long, value_name = "FILE")]
    pub executor_config: Option<PathBuf>,
    /// Which BMC drivers run (as apply's) [default: simulated; real with --boot-config]
    #[arg(long, value_enum)]
    pub bmc: Option<BmcMode>,
    /// CA bundle (PEM) for Redfish BMC certificates
    #[arg(long, value_name = "FILE")]
    pub bmc_ca_bundle: Option<PathBuf>,
    #[command(flatten)]
    pub sim: SimArgs,
}

#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, default)]
struct File {
    listen: Option<String>,
    tokens: Option<PathBuf>,
    tls: Option<Tls>,
    state: Option<PathBuf>,
    database: Option<String>,
    instance: Option<String>,
    advertise: Option<String>,
    lease_ttl: Option<String>,
    audit_log: Option<PathBuf>,
    body_limit: Option<usize>,
    peer_ca: Option<PathBuf>,
    executor_config: Option<PathBuf>,
    boot_config: Option<PathBuf>,
}

#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Tls {
    cert: PathBuf,
    key: PathBuf,
}

/// A value given as `env:NAME` or `file:PATH` (its first line), or as itself.
fn resolve(what: &str, v: &str) -> Result<String, CliError> {
    if let Some(name) = v.strip_prefix("env:") {
        return std::env::var(name).map_err(|_| {
            CliError::new(
                format!("{what} refers to the environment variable {name}, which is not set"),
                format!("export {name}, or give {what} directly"),
            )
        });
    }
    if let Some(path) = v.strip_prefix("file:") {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::new(
                format!("{what} refers to {path}, which cannot be read: {e}"),
                "make the file readable by this user",
            )
        })?;
        return Ok(text.lines().next().unwrap_or("").trim().to_string());
    }
    Ok(v.to_string())
}

fn bad(e: impl std::fmt::Display, help: &str) -> CliError {
    CliError::new(e.to_string(), help)
}

pub fn run(a: Args) -> CliResult {
    let rt = session::runtime(true);
    let mut signals = Signals::install(&rt).map_err(|e| {
        bad(
            format!("cannot install the signal handlers: {e}"),
            "this is a bug or an unusual system; report it",
        )
    })?;
    let file: File = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                bad(
                    format!("{}: {e}", p.display()),
                    "give a readable settings file",
                )
            })?;
            serde_saphyr::from_str(&text).map_err(|e| {
                bad(
                    format!("{}: {e}", p.display()),
                    "see README, \"Running drydock as a service\", for the settings",
                )
            })?
        }
        None => File::default(),
    };
    let listen = a
        .listen
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:9000".into());
    let boot_config = a.boot_config.or(file.boot_config);
    let tokens = match (a.tokens.or(file.tokens), &boot_config) {
        (Some(p), _) => Some(crate::api::auth::Tokens::read(&p).map_err(|e| {
            bad(
                e,
                "each line is `NAME ROLE sha256:HEX`, as `drydock token` prints it",
            )
        })?),
        (None, Some(_)) => None,
        (None, None) => {
            return Err(bad(
                "nothing to serve: no tokens file (the operator API refuses every request without one) and no boot config",
                "make tokens with `drydock token NAME --role operator` and give the file with --tokens FILE; for the PXE boot service give --boot-config FILE",
            ));
        }
    };
    let prov = ProvisionerArgs {
        provisioner: Some(if boot_config.is_some() {
            ProvisionerKind::Pxe
        } else {
            ProvisionerKind::Sim
        }),
        boot_config: boot_config.clone(),
        ..Default::default()
    };
    let boot = boot_config
        .as_ref()
        .map(|_| prov.boot_config())
        .transpose()?;
    let tls = match (a.tls_cert, a.tls_key, file.tls) {
        (Some(c), Some(k), _) => Some((c, k)),
        (_, _, Some(t)) => Some((t.cert, t.key)),
        _ => None,
    };
    let tls = tls
        .map(|(c, k)| crate::api::tls_config(&c, &k))
        .transpose()
        .map_err(|e| bad(e, "give a PEM certificate chain and its PEM private key"))?;
    let database = a
        .database
        .or(file.database)
        .map(|d| resolve("--database", &d))
        .transpose()?;
    let ttl = match a.lease_ttl.or(file.lease_ttl) {
        Some(t) => parse_ms(&t).ok_or_else(|| {
            bad(
                format!("--lease-ttl {t}: expected a duration such as 10s, 1500ms or 1m"),
                "give the lease's time to live",
            )
        })?,
        None => Duration::from_secs(10),
    };
    let load = |color| session::load_for(&a.paths, &a.design, color, prov.catalog()?);
    let loaded = load(crate::cli::ColorChoice::Auto)?;
    let paths = loaded.paths.clone();
    let state_dir = session::state_dir(a.state.or(file.state).as_deref(), &loaded.site);
    crate::state::create_dir(&state_dir).map_err(|e| session::store_error(&state_dir, e))?;
    let sim = a.sim.config(&loaded.site)?;
    let bmc = crate::cli::apply::bmc(a.bmc, a.bmc_ca_bundle.clone(), boot.is_some())?;
    let run = RunArgs {
        auto_approve: true,
        config: a.executor_config.or(file.executor_config),
        concurrency: None,
        rack_concurrency: None,
        retries: None,
        max_failures: None,
        timeout: Vec::new(),
        progress: None,
        bmc: a.bmc,
        bmc_ca_bundle: a.bmc_ca_bundle.clone(),
        signal_listen: None,
        signal_url: None,
    };
    let settings = run.settings()?;
    let audit_path = a
        .audit_log
        .or(file.audit_log)
        .unwrap_or_else(|| state_dir.join("audit.log"));
    let audit = crate::api::audit::Audit::open(Some(&audit_path)).map_err(|e| {
        bad(
            format!("cannot open the audit log {}: {e}", audit_path.display()),
            "give a writable --audit-log FILE",
        )
    })?;
    let instance = a
        .instance
        .or(file.instance)
        .unwrap_or_else(|| format!("{}-{}", crate::state::lock::hostname(), std::process::id()));
    let scheme = if tls.is_some() { "https" } else { "http" };

    // The boot service first: the API's tasks provision through it.
    let running = match boot {
        Some(config) => Some(rt.block_on(boot_service::start(
            &loaded.site,
            &state_dir,
            config,
            "drydock serve",
        ))?),
        None => None,
    };
    let mut hash = loaded.design.content_hash();
    drop(loaded);
    let watch = Watch {
        every: a.watch,
        reload: &|| load(crate::cli::ColorChoice::Never),
    };
    let Some(tokens) = tokens else {
        let running = running.expect("a boot config without tokens");
        eprintln!(
            "drydock serve: boot service on {}{}; no operator API (no --tokens); SIGHUP reloads the design, SIGINT/SIGTERM stop",
            running.service.addr,
            running
                .service
                .dnsmasq_status()
                .map_or(String::new(), |_| ", with dnsmasq".to_string()),
        );
        rt.block_on(async {
            let n = watch
                .until_stopped(&mut signals, Some(&running), &mut hash)
                .await;
            eprintln!("{} received: stopping", signals::name(n));
            running.stop().await;
        });
        return Ok(exit::OK);
    };
    let pxe = running.as_ref().map(Running::pxe);
    let load_options = a.design.options();
    let advertise_arg = a.advertise.clone();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| {
            bad(
                format!("cannot listen on {listen}: {e}"),
                "choose a free address and port with --listen ADDR:PORT",
            )
        })?;
        let bound = listener.local_addr().map_err(|e| bad(e, "retry"))?;
        let advertise = advertise_arg
            .or(file.advertise)
            .unwrap_or_else(|| format!("{scheme}://{bound}"));
        let cfg = Config {
            design: paths,
            load: load_options,
            state_dir: state_dir.clone(),
            backend: match database {
                Some(url) => Backend::Postgres { url },
                None => Backend::File,
            },
            sim,
            bmc,
            pxe,
            settings,
            instance,
            advertise: advertise.clone(),
            lease_ttl: ttl,
            poll: Duration::from_millis(250),
        };
        let service = tokio::select! {
            s = crate::service::Service::start(cfg) => s.map_err(|e| {
                let help = match &e {
                    crate::service::ServiceError::Locked { .. } => "stop the other drydock (apply or serve) first; `drydock status` shows what runs",
                    _ => "check the state directory, or that the database is reachable, and start again",
                };
                bad(e, help)
            })?,
            n = signals.recv() => {
                eprintln!("{} received while starting: stopped", signals::name(n));
                if let Some(r) = running {
                    r.stop().await;
                }
                return Ok(exit::OK);
            }
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let router = crate::api::router(
            service.clone(),
            crate::api::Settings {
                tokens,
                body_limit: file.body_limit.unwrap_or(1 << 20),
                audit,
                peer_ca: file.peer_ca,
            },
            stop_rx.clone(),
        )
        .map_err(|e| bad(e, "check --config's peer_ca"))?;
        if let Some(r) = &running {
            eprintln!(
                "drydock serve: boot service on {}{}",
                r.service.addr,
                r.service.dnsmasq_status().map_or(String::new(), |_| ", with dnsmasq".to_string()),
            );
        }
        eprintln!(
            "drydock serve: operator API on {scheme}://{bound}/api/v1.0 (dashboard {scheme}://{bound}/dashboard), instance {}, {}",
            service.config().instance,
            match &service.config().backend {
                Backend::File => format!("journal in {}", state_dir.display()),
                Backend::Postgres { url } => format!(
                    "journal in PostgreSQL ({}), advertised as {advertise}",
                    crate::state::postgres::redact(url)
                ),
            }
        );
        let server = tokio::spawn(crate::api::serve(listener, router, tls, stop_rx));
        let n = watch
            .until_stopped(&mut signals, running.as_ref(), &mut hash)
            .await;
        eprintln!(
            "{} received: stopping; a running task is stopped and resumed by the next leader or the next start",
            signals::name(n)
        );
        let _ = stop_tx.send(true);
        service.shutdown().await;
        let _ = server.await;
        if let Some(r) = running {
            r.stop().await;
        }
        Ok(exit::OK)
    })
}

/// `10s`, `1500ms`, `1m`.
fn parse_ms(s: &str) -> Option<Duration> {
    match s.strip_suffix("ms") {
        Some(n) => n.parse().ok().map(Duration::from_millis),
        None => parse_duration(s),
    }
}

/// How the boot service follows the design.
struct Watch<'a> {
    /// Seconds between checks of the design's files (0: only on SIGHUP).
    every: u64,
    reload: &'a dyn Fn() -> Result<session::Loaded, CliError>,
}

impl Watch<'_> {
    /// Wait for SIGINT or SIGTERM (returned). Meanwhile SIGHUP, and a change of the design's
    /// files, reload the boot service's design; a design that no longer loads or validates
    /// keeps the running one.
    async fn until_stopped(
        &self,
        signals: &mut Signals,
        boot: Option<&Running>,
        hash: &mut String,
    ) -> i32 {
        loop {
            let tick = async {
                if self.every == 0 || boot.is_none() {
                    std::future::pending::<()>().await
                } else {
                    tokio::time::sleep(Duration::from_secs(self.every)).await
                }
            };
            let hup = tokio::select! {
                n = signals.recv() => {
                    if n != signals::libc_like::SIGHUP {
                        return n;
                    }
                    true
                }
                _ = tick => false,
            };
            let Some(running) = boot else {
                eprintln!(
                    "drydock serve: SIGHUP: nothing to reload (the operator API reads the design at every request)"
                );
                continue;
            };
            match (self.reload)() {
                Ok(l) => {
                    let h = l.design.content_hash();
                    if h == *hash && !hup {
                        continue;
                    }
                    *hash = h;
                    boot_service::reload(running, &l.site);
                }
                Err(e) if hup => eprint!(
                    "drydock serve: the design does not load; keeping the running one:\n{}",
                    e.render()
                ),
                Err(_) => {}
            }
        }
    }
}

//! `drydock serve DESIGN`: the operator API and the dashboard (`api`) over the service
//! (`service`), configured by flags and an optional YAML file (flags win): where to listen,
//! the tokens file, TLS, the state (a directory, or a PostgreSQL connection string), this
//! instance's name and address for the others, the lease. SIGINT, SIGTERM and SIGHUP stop it
//! cleanly: the running task is stopped as Ctrl-C stops an apply and left for the next leader
//! (or the next start) to resume, the lease released; the exit code is then 0.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::apply::{BmcMode, RunArgs, parse_duration};
use crate::cli::session::{self, SimArgs};
use crate::cli::signals::{self, Signals};
use crate::cli::{CliError, CliResult, exit};
use crate::service::{Backend, Bmc, Config};

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
    /// File of hashed tokens with roles (`drydock token` makes them)
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
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
    /// Which BMC drivers run (as apply's)
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
    let tokens_path = a.tokens.or(file.tokens).ok_or_else(|| {
        bad(
            "no tokens file: the API refuses every request without one",
            "make tokens with `drydock token NAME --role operator` and give the file with --tokens FILE",
        )
    })?;
    let tokens = crate::api::auth::Tokens::read(&tokens_path).map_err(|e| {
        bad(
            e,
            "each line is `NAME ROLE sha256:HEX`, as `drydock token` prints it",
        )
    })?;
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
    let loaded = session::load_with(&a.paths, &a.design, crate::cli::ColorChoice::Never)?;
    let paths = loaded.paths.clone();
    let state_dir = session::state_dir(a.state.or(file.state).as_deref(), &loaded.site);
    crate::state::create_dir(&state_dir).map_err(|e| session::store_error(&state_dir, e))?;
    let sim = a.sim.config(&loaded.site)?;
    drop(loaded);
    let run = RunArgs {
        auto_approve: true,
        config: a.executor_config.or(file.executor_config),
        concurrency: None,
        rack_concurrency: None,
        retries: None,
        max_failures: None,
        timeout: Vec::new(),
        progress: None,
        bmc: a.bmc.unwrap_or(BmcMode::Simulated),
        bmc_ca_bundle: a.bmc_ca_bundle.clone(),
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

    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| {
            bad(
                format!("cannot listen on {listen}: {e}"),
                "choose a free address and port with --listen ADDR:PORT",
            )
        })?;
        let bound = listener.local_addr().map_err(|e| bad(e, "retry"))?;
        let advertise = a
            .advertise
            .or(file.advertise)
            .unwrap_or_else(|| format!("{scheme}://{bound}"));
        let cfg = Config {
            design: paths,
            load: a.design.options(),
            state_dir: state_dir.clone(),
            backend: match database {
                Some(url) => Backend::Postgres { url },
                None => Backend::File,
            },
            sim,
            bmc: match run.bmc {
                BmcMode::Real => Bmc::Real {
                    ca_bundle: run.bmc_ca_bundle.clone(),
                },
                BmcMode::Simulated => Bmc::Simulated,
            },
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
        let n = signals.recv().await;
        eprintln!(
            "{} received: stopping; a running task is stopped and resumed by the next leader or the next start",
            signals::name(n)
        );
        let _ = stop_tx.send(true);
        service.shutdown().await;
        let _ = server.await;
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

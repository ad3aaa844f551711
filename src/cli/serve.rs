//! `drydock serve DESIGN --boot-config FILE`: the boot service of the PXE provisioner as a
//! standing service (DHCP, DNS and TFTP through dnsmasq, the HTTP boot service): deployed nodes
//! keep their leases and names and boot their disks, between applies too. It reloads the design
//! on SIGHUP and when its files change (dnsmasq is restarted when its configuration changed),
//! and stops on SIGINT or SIGTERM (exit 0). Also the boot service's start for
//! `apply --provisioner pxe` ([`start_for_apply`]); both hold the boot lock
//! (`STATE/boot/lock`), so one process at a time runs a site's boot service.
//!
//! Kept small on purpose: the operator API of `drydock serve` lives elsewhere and starts the
//! boot service through [`start`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::boot::{BootState, Service};
use crate::cli::session::{self, ProvisionerArgs};
use crate::cli::{CliError, CliResult, ColorChoice, exit};
use crate::model::Site;
use crate::spec::{NodeSpec, SiteSpec};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The site's design (files or directories)
    #[arg(required = true, value_name = "DESIGN")]
    pub paths: Vec<PathBuf>,
    /// State directory (default: .drydock/<site> in the current directory)
    #[arg(long, value_name = "DIR", env = "DRYDOCK_STATE")]
    pub state: Option<PathBuf>,
    /// The boot service's settings (YAML)
    #[arg(
        long,
        value_name = "FILE",
        env = "DRYDOCK_BOOT_CONFIG",
        required = true
    )]
    pub boot_config: PathBuf,
    /// Seconds between checks of the design's files for changes (0: only on SIGHUP)
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub watch: u64,
    #[command(flatten)]
    pub design: crate::cli::design_args::DesignArgs,
}

/// Every node's desired state (for dnsmasq and the HTTP service).
pub fn specs(site: &Site) -> (SiteSpec, Vec<Arc<NodeSpec>>) {
    let spec = crate::plan::desired::site(site);
    let nodes = site
        .nodes
        .iter()
        .map(|n| Arc::new(crate::plan::desired::node(site, n)))
        .collect();
    (spec, nodes)
}

/// A boot service started by this process, with the boot lock it holds.
pub struct Running {
    pub service: Service,
    _lock: crate::state::lock::SiteLock,
}

impl Running {
    /// What the PXE driver's `verify_services` checks.
    pub fn health(&self) -> crate::driver::pxe::Health {
        let status = self.service.dnsmasq_status().map(|_| ());
        let svc_dnsmasq = status.map(|_| {
            let st = self.service.dnsmasq_handle();
            let f: Arc<dyn Fn() -> Option<u32> + Send + Sync> =
                Arc::new(move || st.lock().ok()?.pid);
            f
        });
        crate::driver::pxe::Health {
            addr: self.service.addr,
            dnsmasq: svc_dnsmasq,
        }
    }

    pub async fn stop(self) {
        self.service.shutdown().await;
    }
}

/// Take the boot lock and start the boot service for `site`.
pub async fn start(
    site: &Site,
    state_dir: &Path,
    config: crate::boot::BootConfig,
    command: &str,
) -> Result<Running, CliError> {
    let boot_dir = crate::boot::dir(state_dir);
    let lock = match crate::state::lock::acquire(&boot_dir, command) {
        Ok(l) => l,
        Err(crate::state::lock::LockError::Held(h)) => {
            return Err(CliError::new(
                format!("the boot service of this site already runs: {h}"),
                "one process at a time runs a site's boot service: stop `drydock serve` while an apply with --provisioner pxe runs (the apply runs its own), and start it again after",
            ));
        }
        Err(e) => return Err(CliError::new(e, "check the state directory's permissions")),
    };
    let state = BootState::open(state_dir, config).map_err(|e| {
        CliError::new(
            format!("cannot open the boot service: {e}"),
            "check the boot config's paths and the state directory",
        )
    })?;
    let (site_spec, nodes) = specs(site);
    let service = Service::start(Arc::new(state), &site_spec, &nodes)
        .await
        .map_err(|e| CliError::new(e, "fix the boot config (listen address, dhcp) and retry"))?;
    Ok(Running {
        service,
        _lock: lock,
    })
}

/// The boot service for `apply --provisioner pxe`.
pub fn start_for_apply(
    site: &Site,
    state_dir: &Path,
    prov: &ProvisionerArgs,
    rt: &tokio::runtime::Runtime,
) -> Result<Running, CliError> {
    let config = prov.boot_config()?;
    let r = rt.block_on(start(
        site,
        state_dir,
        config,
        "drydock apply (boot service)",
    ))?;
    eprintln!(
        "boot service listening on {} ({})",
        r.service.addr,
        match r.service.dnsmasq_status() {
            Some(_) => "with dnsmasq",
            None => "no dnsmasq: another DHCP server chains iPXE to it",
        }
    );
    Ok(r)
}

pub fn run(a: Args) -> CliResult {
    let rt = session::runtime(true);
    let prov = ProvisionerArgs {
        provisioner: Some(session::ProvisionerKind::Pxe),
        boot_config: Some(a.boot_config.clone()),
        ..Default::default()
    };
    let config = prov.boot_config()?;
    let load = |color| session::load_for(&a.paths, &a.design, color, config.catalog());
    let loaded = load(ColorChoice::Auto)?;
    let dir = session::state_dir(a.state.as_deref(), &loaded.site);
    let mut signals = crate::cli::signals::Signals::install(&rt).map_err(|e| {
        CliError::new(
            format!("cannot install the signal handlers: {e}"),
            "this is a bug or an unusual system; report it",
        )
    })?;
    let running = rt.block_on(start(&loaded.site, &dir, config.clone(), "drydock serve"))?;
    eprintln!(
        "drydock serve: boot service for site `{}` on {}{}; SIGHUP reloads the design, SIGINT/SIGTERM stop",
        loaded.site.region().map_or("site", |r| r.name.v.as_str()),
        running.service.addr,
        config
            .dhcp
            .as_ref()
            .map(|d| format!(", dnsmasq on {}", d.interface))
            .unwrap_or_default()
    );
    let mut hash = loaded.design.content_hash();
    rt.block_on(async {
        let watch = a.watch;
        loop {
            let tick = async {
                if watch == 0 {
                    std::future::pending::<()>().await
                } else {
                    tokio::time::sleep(Duration::from_secs(watch)).await
                }
            };
            let hup = tokio::select! {
                n = signals.recv() => {
                    if n != crate::cli::signals::libc_like::SIGHUP {
                        eprintln!("drydock serve: {} received; stopping", crate::cli::signals::name(n));
                        break;
                    }
                    true
                }
                _ = tick => false,
            };
            // Reload: a design that no longer loads or validates keeps the running one.
            match load(ColorChoice::Never) {
                Ok(l) => {
                    let h = l.design.content_hash();
                    if h == hash && !hup {
                        continue;
                    }
                    hash = h;
                    let (site, nodes) = specs(&l.site);
                    match running.service.reload(&site, &nodes) {
                        Ok(()) => eprintln!("drydock serve: design reloaded ({} nodes)", nodes.len()),
                        Err(e) => eprintln!("drydock serve: cannot reload: {e}"),
                    }
                }
                Err(e) if hup => eprint!("drydock serve: the design does not load; keeping the running one:\n{}", e.render()),
                Err(_) => {}
            }
        }
        running.stop().await;
    });
    Ok(exit::OK)
}

//! The PXE provisioner's boot service as this process runs it: for `apply --provisioner pxe`
//! ([`start_for_apply`]) and for `drydock serve --boot-config` ([`start`], [`reload`]). Both
//! hold the boot lock (`STATE/boot/lock`), so one process at a time runs a site's boot service
//! (DHCP, DNS and TFTP through dnsmasq, the HTTP boot service): deployed nodes keep their
//! leases and names and boot their disks, between applies too.

use std::path::Path;
use std::sync::Arc;

use crate::boot::{BootState, Service};
use crate::cli::CliError;
use crate::cli::session::ProvisionerArgs;
use crate::model::Site;
use crate::spec::{NodeSpec, SiteSpec};

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
    catalog: crate::vocab::Catalog,
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

    /// What the PXE driver needs from this boot service.
    pub fn pxe(&self) -> crate::service::PxeBoot {
        crate::service::PxeBoot {
            state: self.service.state.clone(),
            health: self.health(),
            catalog: self.catalog.clone(),
        }
    }

    pub async fn stop(self) {
        self.service.shutdown().await;
    }
}

fn lock(state_dir: &Path, command: &str) -> Result<crate::state::lock::SiteLock, CliError> {
    let boot_dir = crate::boot::dir(state_dir);
    match crate::state::lock::acquire(&boot_dir, command) {
        Ok(l) => Ok(l),
        Err(crate::state::lock::LockError::Held(h)) => Err(CliError::new(
            format!("the boot service of this site already runs: {h}"),
            "one process at a time runs a site's boot service: stop `drydock serve` while an apply with --provisioner pxe or --signal-listen runs (the apply runs its own), and start it again after",
        )),
        Err(e) => Err(CliError::new(e, "check the state directory's permissions")),
    }
}

/// Take the boot lock and start the boot-action API alone for `site` (`apply --provisioner
/// maas --signal-listen`): no deploy agent, no images, no dnsmasq.
pub async fn start_signals(
    site: &Site,
    state_dir: &Path,
    listen: std::net::SocketAddr,
    url: Option<String>,
) -> Result<Running, CliError> {
    let lock = lock(state_dir, "drydock apply (boot-action API)")?;
    let state = BootState::open_signals(state_dir, listen, url).map_err(|e| {
        CliError::new(
            format!("cannot open the boot-action API: {e}"),
            "check --signal-url (plain http://) and the state directory",
        )
    })?;
    let (site_spec, nodes) = specs(site);
    let service = Service::start(Arc::new(state), &site_spec, &nodes)
        .await
        .map_err(|e| {
            CliError::new(
                e,
                "pass a --signal-listen address of this host and a free port",
            )
        })?;
    Ok(Running {
        service,
        catalog: crate::vocab::Catalog::simulator(),
        _lock: lock,
    })
}

/// Take the boot lock and start the boot service for `site`.
pub async fn start(
    site: &Site,
    state_dir: &Path,
    config: crate::boot::BootConfig,
    command: &str,
) -> Result<Running, CliError> {
    let lock = lock(state_dir, command)?;
    let catalog = config.catalog();
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
        catalog,
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

/// Give the running boot service the design `site` (dnsmasq is restarted when its
/// configuration changed).
pub fn reload(running: &Running, site: &Site) {
    let (spec, nodes) = specs(site);
    match running.service.reload(&spec, &nodes) {
        Ok(()) => eprintln!(
            "drydock serve: boot service design reloaded ({} nodes)",
            nodes.len()
        ),
        Err(e) => eprintln!("drydock serve: cannot reload the boot service: {e}"),
    }
}

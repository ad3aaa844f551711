//! `drydock pxe-config DESIGN --boot-config FILE`: print the dnsmasq configuration the PXE
//! provisioner would run (reviewable in a pull request; `dnsmasq --test` checks its syntax),
//! or with `--conman` the serial-console configuration. Nodes left out (no boot MAC, no PXE
//! network) are warnings on stderr. Writes nothing but `--out`.

use std::path::PathBuf;

use crate::cli::session::{self, ProvisionerArgs, ProvisionerKind};
use crate::cli::{CliError, CliResult, ColorChoice, exit};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The site's design (files or directories)
    #[arg(required = true, value_name = "DESIGN")]
    pub paths: Vec<PathBuf>,
    /// The boot service's settings (YAML)
    #[arg(
        long,
        value_name = "FILE",
        env = "DRYDOCK_BOOT_CONFIG",
        required = true
    )]
    pub boot_config: PathBuf,
    /// State directory whose paths the configuration names (default: .drydock/<site>)
    #[arg(long, value_name = "DIR", env = "DRYDOCK_STATE")]
    pub state: Option<PathBuf>,
    /// Print the conman configuration for the nodes' IPMI serial-over-LAN consoles instead
    #[arg(long)]
    pub conman: bool,
    /// Write to FILE (mode 0600) instead of standard output; with --conman it includes the
    /// BMC passwords
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub design: crate::cli::design_args::DesignArgs,
}

pub fn run(a: Args) -> CliResult {
    let prov = ProvisionerArgs {
        provisioner: Some(ProvisionerKind::Pxe),
        boot_config: Some(a.boot_config.clone()),
        ..Default::default()
    };
    let config = prov.boot_config()?;
    let loaded = session::load_for(&a.paths, &a.design, ColorChoice::Auto, config.catalog())?;
    let dir = session::state_dir(a.state.as_deref(), &loaded.site);
    let (site, nodes) = crate::cli::boot_service::specs(&loaded.site);
    let text = if a.conman {
        let refs: Vec<&crate::spec::NodeSpec> = nodes.iter().map(|n| n.as_ref()).collect();
        let log_dir = crate::boot::dir(&dir).join("consoles");
        crate::boot::conman::render(
            &site.name,
            &refs,
            &crate::boot::conman::Options {
                log_dir: log_dir.display().to_string(),
                with_credentials: a.out.is_some(),
            },
        )
        .map_err(|e| {
            CliError::new(
                e,
                "make the node's BMC credential resolvable, or write without --out",
            )
        })?
    } else {
        let r = crate::boot::dnsmasq::render(
            &site,
            &nodes,
            &config,
            &crate::boot::dnsmasq::Paths::new(&crate::boot::dir(&dir)),
        );
        for w in &r.warnings {
            eprintln!("warning: {w}");
        }
        r.text
    };
    match &a.out {
        Some(p) => crate::durable::write_atomic(p, text.as_bytes())
            .map_err(|e| CliError::new(e, "choose a writable path for --out"))?,
        None => out!("{text}"),
    }
    Ok(exit::OK)
}

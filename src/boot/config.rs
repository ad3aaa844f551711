//! The boot service's settings (`--boot-config FILE`, YAML): where nodes reach drydock, the
//! interface dnsmasq serves, the deploy agent's artifacts and the image catalogue (each image
//! deployed by the agent or by a distribution installer). Parsing and checking only: nothing
//! here starts anything.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// How an image is deployed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeployMode {
    /// drydock's deploy agent writes the storage layout and the image.
    #[default]
    Image,
    /// iPXE boots the distribution's installer with autoinstall user-data from drydock.
    Installer,
}

/// What an `image` file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ImageFormat {
    /// A root filesystem tree (`.tar.gz`), unpacked onto the designed filesystems.
    #[default]
    TarGz,
    /// A whole-disk image (raw), written over the root disk; the design's partitions are not
    /// used.
    Raw,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    #[serde(default)]
    pub mode: DeployMode,
    /// `image` mode: the image file.
    pub file: Option<PathBuf>,
    #[serde(default)]
    pub format: ImageFormat,
    /// `installer` mode: the installer's kernel and initrd.
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    /// `installer` mode: extra kernel arguments (e.g. `url=http://mirror/ubuntu.iso`).
    #[serde(default)]
    pub installer_args: String,
    /// Kernels (`platform.kernel`) this image accepts; empty: any (DD3001).
    #[serde(default)]
    pub kernels: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhcpConfig {
    /// The interface dnsmasq serves (the PXE network's bridge or NIC).
    pub interface: String,
    /// The address nodes reach TFTP at (default: the HTTP listen address).
    pub server: Option<IpAddr>,
    /// DNS port; 0 turns DNS off (default 53).
    #[serde(default = "dns_port")]
    pub dns_port: u16,
    /// An IPv6 prefix to advertise (router advertisement), e.g. `fd77::`: without one iPXE
    /// waits ~13 s for IPv6 on every boot.
    pub ipv6_ra: Option<String>,
    /// The dnsmasq binary.
    #[serde(default = "dnsmasq")]
    pub dnsmasq: String,
    /// Where iPXE's binaries are (`undionly.kpxe`, `snponly.efi`).
    #[serde(default = "ipxe_dir")]
    pub ipxe_dir: PathBuf,
    /// Lease time, e.g. `12h`.
    #[serde(default = "lease")]
    pub lease_time: String,
}

fn dns_port() -> u16 {
    53
}
fn dnsmasq() -> String {
    "dnsmasq".into()
}
fn ipxe_dir() -> PathBuf {
    "/usr/lib/ipxe".into()
}
fn lease() -> String {
    "12h".into()
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    /// Extra kernel arguments for the agent (default: serial and VGA consoles).
    #[serde(default = "agent_args")]
    pub kernel_args: String,
}

fn agent_args() -> String {
    "console=tty0 console=ttyS0,115200".into()
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootConfig {
    /// Where the HTTP boot service listens (an address on the PXE network, port).
    pub listen: SocketAddr,
    /// The URL nodes use for it (default `http://LISTEN`).
    pub url: Option<String>,
    /// DHCP/DNS/TFTP; without it no dnsmasq is started (another DHCP server chains iPXE to
    /// `URL/boot.ipxe`).
    pub dhcp: Option<DhcpConfig>,
    pub agent: AgentConfig,
    #[serde(default)]
    pub images: BTreeMap<String, ImageConfig>,
    /// Seconds the deploy agent may take to report after the node was powered on.
    #[serde(default = "boot_timeout")]
    pub boot_timeout_secs: u64,
}

fn boot_timeout() -> u64 {
    600
}

impl BootConfig {
    /// Read and check a settings file; relative paths are taken from the file's directory.
    pub fn load(path: &Path) -> Result<BootConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut c = BootConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        c.resolve_paths(base);
        Ok(c)
    }

    pub fn parse(text: &str) -> Result<BootConfig, String> {
        let c: BootConfig = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        c.check()?;
        Ok(c)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        abs(&mut self.agent.kernel);
        abs(&mut self.agent.initramfs);
        for i in self.images.values_mut() {
            for p in [&mut i.file, &mut i.kernel, &mut i.initrd]
                .into_iter()
                .flatten()
            {
                abs(p);
            }
        }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        for (name, i) in &self.images {
            match i.mode {
                DeployMode::Image if i.file.is_none() => {
                    return Err(format!("image `{name}`: mode image needs `file`"));
                }
                DeployMode::Installer if i.kernel.is_none() || i.initrd.is_none() => {
                    return Err(format!(
                        "image `{name}`: mode installer needs `kernel` and `initrd`"
                    ));
                }
                _ => {}
            }
        }
        if let Some(u) = &self.url
            && !u.starts_with("http://")
        {
            return Err(format!(
                "url `{u}`: nodes fetch over plain http:// (iPXE has no HTTPS here)"
            ));
        }
        Ok(())
    }

    /// The URL nodes reach the HTTP service at, without a trailing `/`.
    pub fn url(&self) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_string()
    }

    /// The address nodes reach TFTP at.
    pub fn tftp_server(&self) -> IpAddr {
        self.dhcp
            .as_ref()
            .and_then(|d| d.server)
            .unwrap_or(self.listen.ip())
    }

    /// The images and kernels this boot service offers (rule DD3001).
    pub fn catalog(&self) -> crate::vocab::Catalog {
        let mut kernels: Vec<String> = self
            .images
            .values()
            .flat_map(|i| i.kernels.iter().cloned())
            .collect();
        // An image with no kernel list takes any kernel name: DD3001 cannot check kernels then.
        if self.images.values().any(|i| i.kernels.is_empty()) {
            kernels.extend(crate::vocab::Catalog::simulator().kernels);
        }
        kernels.sort();
        kernels.dedup();
        crate::vocab::Catalog {
            source: "the boot service's image catalogue (--boot-config)".into(),
            images: self.images.keys().cloned().collect(),
            kernels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_parses_and_is_checked() {
        let c = BootConfig::parse(
            "listen: 10.0.0.1:8080\nagent: {kernel: k, initramfs: i}\nimages:\n  jammy: {file: j.tar.gz}\n  noble-install: {mode: installer, kernel: vmlinuz, initrd: initrd}\n",
        )
        .unwrap();
        assert_eq!(c.url(), "http://10.0.0.1:8080");
        assert_eq!(c.images["jammy"].mode, DeployMode::Image);
        assert_eq!(c.catalog().images, ["jammy", "noble-install"]);
        let e = BootConfig::parse(
            "listen: 10.0.0.1:8080\nagent: {kernel: k, initramfs: i}\nimages:\n  x: {mode: installer}\n",
        )
        .unwrap_err();
        assert!(e.contains("needs `kernel` and `initrd`"), "{e}");
        let e = BootConfig::parse(
            "listen: 10.0.0.1:8080\nagent: {kernel: k, initramfs: i}\nurl: https://x\n",
        )
        .unwrap_err();
        assert!(e.contains("plain http"), "{e}");
        assert!(
            BootConfig::parse(
                "listen: 10.0.0.1:8080\nagent: {kernel: k, initramfs: i}\nbogus: 1\n"
            )
            .is_err()
        );
    }
}

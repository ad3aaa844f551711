//! The libvirt BMC driver (`oob.type: libvirt`, as real Airship virtual sites use): the node is
//! the domain named after it on the hypervisor at `oob.libvirt_uri` (`qemu+ssh://…` on real
//! sites, `qemu:///system` locally), driven through the `virsh` client like ipmitool is for
//! IPMI.
//!
//! - Power: `domstate`; on is `start`, off is `destroy` (a hard power-off, as a BMC's), cycle
//!   is `destroy` + `start` (so a changed boot device takes effect; `reset` would not re-read
//!   the definition).
//! - Boot device: libvirt has no one-time override, so the persistent definition's
//!   `<os><boot dev=…/>` is replaced (network then disk for PXE, disk alone for disk) and any
//!   per-device `<boot order=…/>` removed, then the domain is defined again. sushy-tools does
//!   the same.
//! - Inventory: `domiflist` (the MACs), `dominfo` (memory, CPUs), `domuuid` (serial).
//!
//! Errors: a hypervisor that cannot be reached (connection refused, SSH down) is transient; a
//! domain that does not exist, an authentication failure or a missing `virsh` is permanent.
//! Calls to one domain are serialized; each call is bounded by a timeout.

use std::time::Duration;

use tokio::process::Command;

use crate::driver::endpoints::Endpoints;
use crate::driver::{
    BootDevice, DriverError, DriverResult, Inventory, NodeSpec, OobDriver, PowerAction, Progress,
};
use crate::model::observed::Power;

#[derive(Clone, Debug)]
pub struct LibvirtOptions {
    pub virsh: String,
    pub timeout: Duration,
}

impl Default for LibvirtOptions {
    fn default() -> LibvirtOptions {
        LibvirtOptions {
            virsh: "virsh".into(),
            timeout: Duration::from_secs(30),
        }
    }
}

pub struct Libvirt {
    options: LibvirtOptions,
    endpoints: Endpoints<()>,
}

/// How virsh's failure reads.
pub fn classify(node: &str, uri: &str, stderr: &str) -> DriverError {
    let short: String = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let lower = short.to_ascii_lowercase();
    if lower.contains("domain not found") || lower.contains("failed to get domain") {
        return DriverError::Permanent(format!(
            "no libvirt domain named `{node}` at {uri}: define the VM with the node's name, or fix oob.libvirt_uri ({short})"
        ));
    }
    if lower.contains("authentication failed")
        || lower.contains("permission denied")
        || lower.contains("access denied")
        || lower.contains("host key verification failed")
    {
        return DriverError::Permanent(format!(
            "the hypervisor {uri} of {node} refused the connection: check the SSH key or libvirt's access rules ({short})"
        ));
    }
    if lower.contains("failed to connect")
        || lower.contains("cannot recv data")
        || lower.contains("connection refused")
        || lower.contains("no route to host")
        || lower.contains("timed out")
        || lower.contains("end of file while reading")
    {
        return DriverError::Transient(format!(
            "the hypervisor {uri} of {node} did not answer ({short})"
        ));
    }
    DriverError::Permanent(format!("virsh failed for {node} at {uri} ({short})"))
}

/// The definition with its boot devices replaced by `devices` (in order).
pub fn set_boot(xml: &str, devices: &[&str]) -> Result<String, String> {
    let per_device =
        regex::Regex::new(r"\s*<boot\s+order=['\x22][^'\x22]*['\x22]\s*/>").expect("valid regex");
    let os_boot =
        regex::Regex::new(r"\s*<boot\s+dev=['\x22][^'\x22]*['\x22]\s*/>").expect("valid regex");
    let xml = per_device.replace_all(xml, "");
    let mut xml = os_boot.replace_all(&xml, "").into_owned();
    let close = xml
        .find("</os>")
        .ok_or_else(|| "the domain definition has no <os> element".to_string())?;
    // After the last element of <os>, before the whitespace that indents `</os>`.
    let end = xml[..close].trim_end().len();
    let boots: String = devices
        .iter()
        .map(|d| format!("\n    <boot dev='{d}'/>"))
        .collect();
    xml.insert_str(end, &boots);
    Ok(xml)
}

impl Libvirt {
    pub fn new(options: LibvirtOptions) -> Libvirt {
        Libvirt {
            options,
            endpoints: Endpoints::default(),
        }
    }

    fn uri(node: &NodeSpec) -> DriverResult<&str> {
        node.oob.libvirt_uri.as_deref().ok_or_else(|| {
            DriverError::Permanent(format!(
                "{} has oob.type libvirt but no oob.libvirt_uri",
                node.name
            ))
        })
    }

    /// Run `virsh -c URI ARGS`; stdout on success. `stdin` is fed to it when given.
    async fn virsh(
        &self,
        node: &NodeSpec,
        args: &[&str],
        stdin: Option<&str>,
    ) -> DriverResult<String> {
        let uri = Self::uri(node)?;
        let _serial = self.endpoints.lock(&format!("{uri} {}", node.name)).await;
        let mut cmd = Command::new(&self.options.virsh);
        cmd.arg("-q")
            .arg("-c")
            .arg(uri)
            .args(args)
            .stdin(if stdin.is_some() {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let run = async {
            let mut child = cmd.spawn()?;
            if let (Some(text), Some(mut w)) = (stdin, child.stdin.take()) {
                use tokio::io::AsyncWriteExt;
                w.write_all(text.as_bytes()).await?;
            }
            child.wait_with_output().await
        };
        let out = match tokio::time::timeout(self.options.timeout, run).await {
            Err(_) => {
                return Err(DriverError::Transient(format!(
                    "virsh did not finish within {} s for {} at {uri}",
                    self.options.timeout.as_secs(),
                    node.name
                )));
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DriverError::Permanent(format!(
                    "virsh is not installed ({}): install the `libvirt-clients` package",
                    self.options.virsh
                )));
            }
            Ok(Err(e)) => return Err(DriverError::Transient(format!("cannot run virsh: {e}"))),
            Ok(Ok(o)) => o,
        };
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(classify(
                &node.name,
                uri,
                &String::from_utf8_lossy(&out.stderr),
            ))
        }
    }

    async fn power_now(&self, node: &NodeSpec) -> DriverResult<Power> {
        let out = self.virsh(node, &["domstate", &node.name], None).await?;
        Ok(match out.trim() {
            "running" | "paused" | "in shutdown" | "blocked" | "pmsuspended" => Power::On,
            "shut off" | "crashed" => Power::Off,
            _ => Power::Unknown,
        })
    }
}

#[async_trait::async_trait]
impl OobDriver for Libvirt {
    fn name(&self) -> &str {
        "libvirt"
    }

    async fn power_state(&self, node: &NodeSpec) -> DriverResult<Power> {
        self.power_now(node).await
    }

    async fn set_power(&self, node: &NodeSpec, action: PowerAction) -> DriverResult<Progress> {
        let now = self.power_now(node).await?;
        match (action, now) {
            (PowerAction::On, Power::On) | (PowerAction::Off, Power::Off) => {}
            (PowerAction::Off, _) => {
                self.virsh(node, &["destroy", &node.name], None).await?;
            }
            (PowerAction::Cycle, Power::On) => {
                self.virsh(node, &["destroy", &node.name], None).await?;
                self.virsh(node, &["start", &node.name], None).await?;
            }
            (PowerAction::On | PowerAction::Cycle, _) => {
                self.virsh(node, &["start", &node.name], None).await?;
            }
        }
        Ok(Progress::Done)
    }

    async fn set_boot_device(&self, node: &NodeSpec, device: BootDevice) -> DriverResult<Progress> {
        let xml = self
            .virsh(node, &["dumpxml", "--inactive", &node.name], None)
            .await?;
        let devices: &[&str] = match device {
            BootDevice::Pxe => &["network", "hd"],
            BootDevice::Disk => &["hd"],
        };
        let new = set_boot(&xml, devices).map_err(|e| {
            DriverError::Permanent(format!("the libvirt domain {}: {e}", node.name))
        })?;
        if new != xml {
            self.virsh(node, &["define", "/dev/stdin"], Some(&new))
                .await?;
        }
        Ok(Progress::Done)
    }

    async fn interrogate(&self, node: &NodeSpec) -> DriverResult<Inventory> {
        let ifaces = self.virsh(node, &["domiflist", &node.name], None).await?;
        let info = self.virsh(node, &["dominfo", &node.name], None).await?;
        let uuid = self.virsh(node, &["domuuid", &node.name], None).await?;
        let field = |name: &str| {
            info.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == name).then(|| v.trim().to_string())
            })
        };
        // `Max memory:     262144 KiB`
        let memory_gib = field("Max memory")
            .and_then(|m| m.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kib| kib / (1 << 20));
        Ok(Inventory {
            model: Some("libvirt domain".into()),
            serial: Some(uuid.trim().to_string()).filter(|s| !s.is_empty()),
            memory_gib,
            cpus: field("CPU(s)").and_then(|c| c.parse().ok()),
            macs: ifaces
                .lines()
                .filter_map(|l| l.split_whitespace().last())
                .filter(|m| m.len() == 17 && m.matches(':').count() == 5)
                .map(str::to_ascii_lowercase)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_devices_replace_the_definitions() {
        let xml = "<domain type='qemu'>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n    <boot dev='hd'/>\n  </os>\n  <devices>\n    <disk type='file'><boot order='1'/></disk>\n  </devices>\n</domain>\n";
        let pxe = set_boot(xml, &["network", "hd"]).unwrap();
        assert!(
            pxe.contains("<boot dev='network'/>\n    <boot dev='hd'/>\n  </os>"),
            "{pxe}"
        );
        assert!(!pxe.contains("order="), "{pxe}");
        let disk = set_boot(&pxe, &["hd"]).unwrap();
        assert!(!disk.contains("network"), "{disk}");
        assert_eq!(set_boot(&disk, &["hd"]).unwrap(), disk, "idempotent");
        assert!(set_boot("<domain/>", &["hd"]).is_err());
    }

    #[test]
    fn virsh_messages_are_classified() {
        let nf = "error: failed to get domain 'n1'";
        assert!(!classify("n1", "qemu:///system", nf).is_transient());
        assert!(
            classify("n1", "qemu:///system", nf)
                .to_string()
                .contains("no libvirt domain named `n1`")
        );
        let down = "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/run/libvirt/libvirt-sock': Connection refused";
        assert!(classify("n1", "qemu:///system", down).is_transient());
        assert!(
            !classify(
                "n1",
                "qemu+ssh://h/system",
                "Permission denied (publickey)."
            )
            .is_transient()
        );
    }
}

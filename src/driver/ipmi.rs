//! The IPMI BMC driver, through `ipmitool -I lanplus` (cipher suite `oob.cipher_suite`,
//! default 3: without `-C` every call stalls on the cipher-suite query).
//!
//! - Power: `chassis power status|on|off|cycle` (`cycle` on a machine that is off is `on`).
//! - Boot: `chassis bootdev pxe`, with `options=efiboot` when the hardware profile says uefi.
//! - Inventory: `fru print 0` (model and serial, where the BMC has them).
//!
//! The password goes through the environment (`-E` reads `IPMI_PASSWORD`), never on a command
//! line that `ps` shows. ipmitool's exit status and messages are mapped to errors: a rejected
//! session (wrong password or account) is permanent; a BMC that does not answer, or a busy one,
//! is transient. Calls to one endpoint are serialized; each call is bounded by a timeout and
//! killed when it expires or the step is abandoned.

use std::time::Duration;

use tokio::process::Command;

use crate::driver::endpoints::Endpoints;
use crate::driver::{
    BootDevice, DriverError, DriverResult, Inventory, NodeSpec, OobDriver, PowerAction, Progress,
    credential,
};
use crate::model::observed::Power;

#[derive(Clone, Debug)]
pub struct IpmiOptions {
    /// The ipmitool binary.
    pub ipmitool: String,
    /// Seconds ipmitool waits for an answer (`-N`) and how often it retries (`-R`).
    pub timeout_secs: u32,
    pub retries: u32,
}

impl Default for IpmiOptions {
    fn default() -> IpmiOptions {
        IpmiOptions {
            ipmitool: "ipmitool".into(),
            timeout_secs: 2,
            retries: 2,
        }
    }
}

pub struct Ipmi {
    options: IpmiOptions,
    endpoints: Endpoints<()>,
}

/// How ipmitool's failure reads. `answered_fast` says whether it failed well before its own
/// timeout: without `-v`, ipmitool prints the same "Unable to establish IPMI v2 / RMCP+
/// session" for a wrong password and for a BMC that does not answer, and only the time tells
/// them apart (a rejected session fails in milliseconds; silence takes the whole timeout).
pub fn classify(node: &str, bmc: &str, stderr: &str, answered_fast: bool) -> DriverError {
    let s = stderr.trim();
    let short: String = s
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let lower = s.to_ascii_lowercase();
    let rejected = [
        "rakp 2 hmac is invalid",
        "unauthorized name",
        "invalid user name",
        "password",
        "insufficient privilege",
        "rakp 2 message indicates an error",
    ];
    if rejected.iter().any(|r| lower.contains(r)) {
        return DriverError::Permanent(format!(
            "BMC {bmc} of {node} rejected the session: wrong oob.account or oob.credential ({short})"
        ));
    }
    if lower.contains("unable to establish") && answered_fast {
        return DriverError::Permanent(format!(
            "BMC {bmc} of {node} rejected the session: wrong oob.account or oob.credential, or a cipher suite it does not offer ({short})"
        ));
    }
    if lower.contains("unable to establish")
        || lower.contains("no response")
        || lower.contains("timeout")
        || lower.contains("connection refused")
        || lower.contains("busy")
    {
        return DriverError::Transient(format!("BMC {bmc} of {node} did not answer ({short})"));
    }
    if lower.contains("invalid") || lower.contains("not supported") || lower.contains("unknown") {
        return DriverError::Permanent(format!(
            "BMC {bmc} of {node} refused the command ({short})"
        ));
    }
    DriverError::Transient(format!("ipmitool failed for BMC {bmc} of {node} ({short})"))
}

impl Ipmi {
    pub fn new(options: IpmiOptions) -> Ipmi {
        Ipmi {
            options,
            endpoints: Endpoints::default(),
        }
    }

    /// Run `ipmitool` with `args` against the node's BMC; stdout on success. Errors are
    /// scrubbed of the password's forms (ipmitool or a BMC may echo it).
    async fn run(&self, node: &NodeSpec, args: &[&str]) -> DriverResult<String> {
        let password = match &node.oob.credential {
            Some(s) => credential::resolve(s)?,
            None => String::new(),
        };
        let scrub = credential::Scrub::new(node.oob.account.as_deref().unwrap_or(""), &password);
        self.ipmitool(node, args, password)
            .await
            .map_err(|e| scrub.error(e))
    }

    async fn ipmitool(
        &self,
        node: &NodeSpec,
        args: &[&str],
        password: String,
    ) -> DriverResult<String> {
        let bmc = node.oob.endpoint(623);
        let Some(address) = node.oob.address else {
            return Err(DriverError::Permanent(format!(
                "{} has no BMC address (a static address on its oob network)",
                node.name
            )));
        };
        let _serial = self.endpoints.lock(&bmc).await;
        let mut cmd = Command::new(&self.options.ipmitool);
        cmd.args(["-I", "lanplus", "-C"])
            .arg(node.oob.cipher_suite.unwrap_or(3).to_string())
            .arg("-H")
            .arg(address.to_string())
            .arg("-p")
            .arg(node.oob.port.unwrap_or(623).to_string())
            .arg("-U")
            .arg(node.oob.account.as_deref().unwrap_or(""))
            .arg("-E")
            .args([
                "-N",
                &self.options.timeout_secs.to_string(),
                "-R",
                &self.options.retries.to_string(),
            ])
            .args(args)
            .env("IPMI_PASSWORD", password)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        // ipmitool's own timeouts bound it; this bounds a hung ipmitool.
        let limit = Duration::from_secs(
            u64::from(self.options.timeout_secs * (self.options.retries + 1)) + 10,
        );
        let started = std::time::Instant::now();
        let out = match tokio::time::timeout(limit, cmd.output()).await {
            Err(_) => {
                return Err(DriverError::Transient(format!(
                    "ipmitool did not finish for BMC {bmc} of {}",
                    node.name
                )));
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DriverError::Permanent(format!(
                    "ipmitool is not installed ({}): install the `ipmitool` package",
                    self.options.ipmitool
                )));
            }
            Ok(Err(e)) => return Err(DriverError::Transient(format!("cannot run ipmitool: {e}"))),
            Ok(Ok(o)) => o,
        };
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            // Half of one ipmitool timeout: a BMC that answers does so in milliseconds.
            let fast = started.elapsed()
                < Duration::from_millis(u64::from(self.options.timeout_secs) * 500);
            // Some failures are printed on stdout (`fru print`: "Device not present").
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            );
            Err(classify(&node.name, &bmc, &text, fast))
        }
    }

    async fn power_now(&self, node: &NodeSpec) -> DriverResult<Power> {
        let out = self.run(node, &["chassis", "power", "status"]).await?;
        Ok(if out.contains("is on") {
            Power::On
        } else if out.contains("is off") {
            Power::Off
        } else {
            Power::Unknown
        })
    }
}

#[async_trait::async_trait]
impl OobDriver for Ipmi {
    fn name(&self) -> &str {
        "ipmi"
    }

    async fn power_state(&self, node: &NodeSpec) -> DriverResult<Power> {
        self.power_now(node).await
    }

    async fn set_power(&self, node: &NodeSpec, action: PowerAction) -> DriverResult<Progress> {
        let now = self.power_now(node).await?;
        let verb = match (action, now) {
            (PowerAction::On, Power::On) | (PowerAction::Off, Power::Off) => {
                return Ok(Progress::Done);
            }
            (PowerAction::Cycle, Power::On) => "cycle",
            (PowerAction::On | PowerAction::Cycle, _) => "on",
            (PowerAction::Off, _) => "off",
        };
        self.run(node, &["chassis", "power", verb]).await?;
        Ok(Progress::Done)
    }

    async fn set_boot_device(&self, node: &NodeSpec, device: BootDevice) -> DriverResult<Progress> {
        let dev = match device {
            BootDevice::Pxe => "pxe",
            BootDevice::Disk => "disk",
        };
        // A one-time override: setting it again is harmless, so no read-back is needed.
        if node.hardware.boot_mode.as_deref() == Some("uefi") {
            self.run(node, &["chassis", "bootdev", dev, "options=efiboot"])
                .await?;
        } else {
            self.run(node, &["chassis", "bootdev", dev]).await?;
        }
        Ok(Progress::Done)
    }

    async fn interrogate(&self, node: &NodeSpec) -> DriverResult<Inventory> {
        // FRU data is optional (many BMCs, ipmi_sim among them, have none), so its absence is
        // not an error; a BMC that rejects us or does not answer is. VerifyNode has already
        // read the power state.
        let fru = match self.run(node, &["fru", "print", "0"]).await {
            Ok(f) => f,
            Err(DriverError::Permanent(e)) if e.contains("refused the command") => String::new(),
            Err(e) => return Err(e),
        };
        let field = |name: &str| {
            fru.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == name).then(|| v.trim().to_string())
            })
        };
        Ok(Inventory {
            model: field("Product Name").or_else(|| field("Board Product")),
            serial: field("Product Serial").or_else(|| field("Board Serial")),
            ..Inventory::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipmitool_messages_are_classified() {
        let session = "Error: Unable to establish IPMI v2 / RMCP+ session";
        assert!(
            !classify("n", "b", session, true).is_transient(),
            "a fast refusal is a rejected session"
        );
        assert!(
            classify("n", "b", session, false).is_transient(),
            "a slow one is a BMC that does not answer"
        );
        assert!(!classify("n", "b", "RAKP 2 HMAC is invalid", false).is_transient());
        assert!(!classify("n", "b", "Invalid chassis power command: x", false).is_transient());
    }
}

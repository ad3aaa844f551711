//! The Redfish BMC driver (DMTF Redfish over HTTPS, reqwest with rustls).
//!
//! - The system behind a BMC: the only one, or the one whose Id, name or UUID is `oob.system`,
//!   or the one with a NIC whose MAC is the node's `boot_mac`.
//! - Power: `ComputerSystem.Reset` with `On`, `GracefulShutdown` (then `ForceOff` when the
//!   system is still on after the graceful timeout) and `ForceRestart`; transitions are
//!   asynchronous, so the driver answers "in progress" and the executor polls until the power
//!   state is reached (or the step times out).
//! - One-time PXE boot: `PATCH` of `Boot` (`BootSourceOverrideTarget: Pxe`,
//!   `BootSourceOverrideEnabled: Once`, and `BootSourceOverrideMode: UEFI` for uefi hardware).
//! - Inventory: model, serial number, memory, CPUs and NIC MACs.
//!
//! Errors: 401/403 are permanent (wrong credentials, said clearly); 5xx, timeouts and
//! connection errors are transient; redirects (307 from a system fetched by name) are
//! followed. TLS is verified: against the system's roots, or a CA bundle per node
//! (`oob.ca_bundle`) or per site (`--bmc-ca-bundle`); `oob.insecure: true` skips verification
//! and warns every time it is used. Calls to one endpoint are serialized (`endpoints`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::driver::endpoints::Endpoints;
use crate::driver::{
    BootDevice, DriverError, DriverResult, Inventory, NodeSpec, OobDriver, PowerAction, Progress,
    credential,
};
use crate::model::observed::Power;

#[derive(Clone, Debug)]
pub struct RedfishOptions {
    /// A site-wide CA bundle (a node's `oob.ca_bundle` wins).
    pub ca_bundle: Option<PathBuf>,
    /// How long to wait between power-state polls.
    pub poll: Duration,
    /// How long a graceful shutdown may take before the driver forces the power off.
    pub graceful_timeout: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
}

impl Default for RedfishOptions {
    fn default() -> RedfishOptions {
        RedfishOptions {
            ca_bundle: None,
            poll: Duration::from_secs(1),
            graceful_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(15),
        }
    }
}

/// What the driver remembers of one endpoint between calls.
#[derive(Default)]
struct Endpoint {
    /// The system's path, once found.
    system: Option<String>,
    /// A power transition asked for and not yet observed: target, since when, forced yet.
    transition: Option<(Power, Instant, bool)>,
}

pub struct Redfish {
    options: RedfishOptions,
    clients: Mutex<HashMap<(Option<PathBuf>, bool), reqwest::Client>>,
    endpoints: Endpoints<Endpoint>,
}

fn transient(e: impl std::fmt::Display) -> DriverError {
    DriverError::Transient(e.to_string())
}

fn permanent(e: impl std::fmt::Display) -> DriverError {
    DriverError::Permanent(e.to_string())
}

impl Redfish {
    pub fn new(options: RedfishOptions) -> Redfish {
        // reqwest is built without a default crypto provider (ring builds faster than aws-lc);
        // install ring once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Redfish {
            options,
            clients: Mutex::default(),
            endpoints: Endpoints::default(),
        }
    }

    fn client(&self, node: &NodeSpec) -> DriverResult<reqwest::Client> {
        let ca = node
            .oob
            .ca_bundle
            .clone()
            .or_else(|| self.options.ca_bundle.clone());
        let insecure = node.oob.insecure;
        if insecure {
            // Shown at the default log level: on stderr, once per use.
            tracing::warn!(node = %node.name, bmc = %node.oob.endpoint(443), "oob.insecure is set: the TLS certificate of the BMC is not verified");
        }
        let key = (ca.clone(), insecure);
        if let Some(c) = self.clients.lock().expect("clients lock").get(&key) {
            return Ok(c.clone());
        }
        let mut b = reqwest::Client::builder()
            .timeout(self.options.request_timeout)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::limited(5));
        if let Some(path) = &ca {
            let pem = std::fs::read(path).map_err(|e| {
                permanent(format!(
                    "the BMC CA bundle {} cannot be read: {e}",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                permanent(format!(
                    "the BMC CA bundle {} is not PEM certificates: {e}",
                    path.display()
                ))
            })?;
            b = b.tls_certs_only(certs);
        }
        if insecure {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        let c = b
            .build()
            .map_err(|e| permanent(format!("cannot build an HTTPS client: {e}")))?;
        self.clients
            .lock()
            .expect("clients lock")
            .insert(key, c.clone());
        Ok(c)
    }

    fn base(node: &NodeSpec) -> DriverResult<String> {
        if node.oob.address.is_none() {
            return Err(permanent(format!(
                "{} has no BMC address (a static address on its oob network)",
                node.name
            )));
        }
        Ok(format!("https://{}", node.oob.endpoint(443)))
    }

    /// One request, with errors classified and messages free of credentials (a BMC may echo
    /// the login in its error page: every error is scrubbed of the secret's forms).
    async fn call(
        &self,
        node: &NodeSpec,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> DriverResult<Value> {
        let account = node.oob.account.clone().unwrap_or_default();
        let password = match &node.oob.credential {
            Some(s) => credential::resolve(s)?,
            None => String::new(),
        };
        let scrub = credential::Scrub::new(&account, &password);
        self.request(node, method, path, body, &account, password)
            .await
            .map_err(|e| scrub.error(e))
    }

    async fn request(
        &self,
        node: &NodeSpec,
        method: Method,
        path: &str,
        body: Option<Value>,
        account: &str,
        password: String,
    ) -> DriverResult<Value> {
        let url = format!("{}{path}", Redfish::base(node)?);
        let mut req = self
            .client(node)?
            .request(method.clone(), &url)
            .basic_auth(account, Some(password))
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let bmc = node.oob.endpoint(443);
        let resp = req.send().await.map_err(|e| {
            let cause = root_cause(&e);
            // A certificate problem does not go away by retrying.
            if cause.contains("certificate") || cause.contains("Certificate") {
                return permanent(format!(
                    "the TLS certificate of BMC {bmc} of {} is not trusted ({cause}); give its CA with oob.ca_bundle or --bmc-ca-bundle",
                    node.name
                ));
            }
            let why = if e.is_timeout() {
                "did not answer in time".to_string()
            } else if e.is_connect() {
                format!("cannot be reached ({})", root_cause(&e))
            } else {
                root_cause(&e)
            };
            transient(format!("BMC {bmc} of {} {why}", node.name))
        })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| transient(format!("BMC {bmc}: reading the answer failed: {e}")))?;
        match status {
            s if s.is_success() => Ok(if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::Null)
            }),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(permanent(format!(
                "BMC {bmc} of {} rejected the credentials of account `{account}` ({status}); check oob.account and oob.credential",
                node.name
            ))),
            s if s.is_server_error() && s != StatusCode::NOT_IMPLEMENTED => {
                Err(transient(format!(
                    "BMC {bmc} of {} answered {status} to {method} {path}: {}",
                    node.name,
                    redfish_message(&text)
                )))
            }
            _ => Err(permanent(format!(
                "BMC {bmc} of {} answered {status} to {method} {path}: {}",
                node.name,
                redfish_message(&text)
            ))),
        }
    }

    /// The system behind the node's BMC.
    async fn system(&self, node: &NodeSpec, ep: &mut Endpoint) -> DriverResult<String> {
        if let Some(s) = &ep.system {
            return Ok(s.clone());
        }
        // Most BMCs name a system's resource by its Id (and sushy redirects a name to it):
        // one request instead of fetching every system.
        if let Some(want) = &node.oob.system
            && let Ok(sys) = self
                .call(
                    node,
                    Method::GET,
                    &format!("/redfish/v1/Systems/{want}"),
                    None,
                )
                .await
            && let Some(id) = sys["@odata.id"].as_str()
        {
            ep.system = Some(id.to_string());
            return Ok(id.to_string());
        }
        let coll = self
            .call(node, Method::GET, "/redfish/v1/Systems", None)
            .await?;
        let members: Vec<String> = coll["Members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["@odata.id"].as_str().map(str::to_string))
            .collect();
        let found = if let Some(want) = &node.oob.system {
            let mut hit = None;
            for m in &members {
                let sys = self.call(node, Method::GET, m, None).await?;
                let names = [&sys["Id"], &sys["Name"], &sys["UUID"]];
                if names
                    .iter()
                    .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(want)))
                {
                    hit = Some(m.clone());
                    break;
                }
            }
            hit.ok_or_else(|| {
                permanent(format!(
                    "BMC {} has no system named `{want}` (oob.system)",
                    node.oob.endpoint(443)
                ))
            })?
        } else if members.len() == 1 {
            members[0].clone()
        } else if let Some(mac) = &node.boot_mac {
            let mut hit = None;
            for m in &members {
                if self.macs(node, m).await?.iter().any(|x| same_mac(x, mac)) {
                    hit = Some(m.clone());
                    break;
                }
            }
            hit.ok_or_else(|| {
                permanent(format!(
                    "none of the {} systems behind BMC {} has a NIC with boot MAC {mac}",
                    members.len(),
                    node.oob.endpoint(443)
                ))
            })?
        } else {
            return Err(permanent(format!(
                "BMC {} has {} systems; set oob.system (Id, name or UUID) or metadata.boot_mac for {}",
                node.oob.endpoint(443),
                members.len(),
                node.name
            )));
        };
        ep.system = Some(found.clone());
        Ok(found)
    }

    async fn macs(&self, node: &NodeSpec, system: &str) -> DriverResult<Vec<String>> {
        let nics = self
            .call(
                node,
                Method::GET,
                &format!("{system}/EthernetInterfaces"),
                None,
            )
            .await?;
        let mut out = Vec::new();
        for m in nics["Members"].as_array().into_iter().flatten() {
            if let Some(p) = m["@odata.id"].as_str() {
                let nic = self.call(node, Method::GET, p, None).await?;
                if let Some(mac) = nic["MACAddress"]
                    .as_str()
                    .or(nic["PermanentMACAddress"].as_str())
                {
                    out.push(mac.to_ascii_lowercase());
                }
            }
        }
        Ok(out)
    }

    async fn power_now(&self, node: &NodeSpec, system: &str) -> DriverResult<Power> {
        let sys = self.call(node, Method::GET, system, None).await?;
        Ok(match sys["PowerState"].as_str() {
            Some("On") => Power::On,
            Some("Off") => Power::Off,
            _ => Power::Unknown,
        })
    }

    async fn reset(&self, node: &NodeSpec, system: &str, kind: &str) -> DriverResult<()> {
        self.call(
            node,
            Method::POST,
            &format!("{system}/Actions/ComputerSystem.Reset"),
            Some(json!({ "ResetType": kind })),
        )
        .await
        .map(|_| ())
    }

    fn pending(&self, what: &str) -> Progress {
        Progress::Pending {
            after: self.options.poll,
            what: what.into(),
        }
    }
}

/// The serialization key of a node's BMC endpoint: address, port and system.
fn key(node: &NodeSpec) -> String {
    format!(
        "{}/{}",
        node.oob.endpoint(443),
        node.oob
            .system
            .as_deref()
            .or(node.boot_mac.as_deref())
            .unwrap_or("")
    )
}

fn same_mac(a: &str, b: &str) -> bool {
    a.replace('-', ":")
        .eq_ignore_ascii_case(&b.replace('-', ":"))
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(s) = cur.source() {
        cur = s;
    }
    cur.to_string()
}

/// The message of a Redfish error body, or a short piece of the body.
fn redfish_message(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

#[async_trait::async_trait]
impl OobDriver for Redfish {
    fn name(&self) -> &str {
        "redfish"
    }

    async fn power_state(&self, node: &NodeSpec) -> DriverResult<Power> {
        let mut ep = self.endpoints.lock(&key(node)).await;
        let sys = self.system(node, &mut ep).await?;
        self.power_now(node, &sys).await
    }

    async fn set_power(&self, node: &NodeSpec, action: PowerAction) -> DriverResult<Progress> {
        let mut ep = self.endpoints.lock(&key(node)).await;
        let sys = self.system(node, &mut ep).await?;
        let now = self.power_now(node, &sys).await?;
        let target = match action {
            PowerAction::Off => Power::Off,
            PowerAction::On | PowerAction::Cycle => Power::On,
        };
        // A transition asked for earlier (this apply): reached, or still in progress.
        if let Some((t, since, forced)) = ep.transition
            && t == target
        {
            if now == target {
                ep.transition = None;
                return Ok(Progress::Done);
            }
            if target == Power::Off && !forced && since.elapsed() >= self.options.graceful_timeout {
                // The graceful shutdown did not finish in time: force it.
                self.reset(node, &sys, "ForceOff").await?;
                ep.transition = Some((Power::Off, since, true));
            }
            return Ok(self.pending(&format!("power {:?}", target).to_lowercase()));
        }
        match (action, now) {
            (PowerAction::On, Power::On) | (PowerAction::Off, Power::Off) => {
                return Ok(Progress::Done);
            }
            (PowerAction::Cycle, Power::On) => self.reset(node, &sys, "ForceRestart").await?,
            (PowerAction::On | PowerAction::Cycle, _) => self.reset(node, &sys, "On").await?,
            (PowerAction::Off, _) => self.reset(node, &sys, "GracefulShutdown").await?,
        }
        ep.transition = Some((target, Instant::now(), false));
        Ok(self.pending(&format!("power {:?}", target).to_lowercase()))
    }

    async fn set_boot_device(&self, node: &NodeSpec, device: BootDevice) -> DriverResult<Progress> {
        let mut ep = self.endpoints.lock(&key(node)).await;
        let sys = self.system(node, &mut ep).await?;
        let target = match device {
            BootDevice::Pxe => "Pxe",
            BootDevice::Disk => "Hdd",
        };
        let current = self.call(node, Method::GET, &sys, None).await?;
        let boot = &current["Boot"];
        // Some BMCs (sushy among them) read the override back as `Continuous` whatever was
        // set: the target is what tells.
        if boot["BootSourceOverrideTarget"].as_str() == Some(target)
            && boot["BootSourceOverrideEnabled"].as_str() != Some("Disabled")
        {
            return Ok(Progress::Done);
        }
        let mut patch = json!({"Boot": {"BootSourceOverrideTarget": target, "BootSourceOverrideEnabled": "Once"}});
        if node.hardware.boot_mode.as_deref() == Some("uefi") {
            patch["Boot"]["BootSourceOverrideMode"] = json!("UEFI");
        }
        self.call(node, Method::PATCH, &sys, Some(patch)).await?;
        Ok(Progress::Done)
    }

    async fn interrogate(&self, node: &NodeSpec) -> DriverResult<Inventory> {
        let mut ep = self.endpoints.lock(&key(node)).await;
        let sys = self.system(node, &mut ep).await?;
        let s = self.call(node, Method::GET, &sys, None).await?;
        Ok(Inventory {
            model: s["Model"].as_str().map(str::to_string),
            serial: s["SerialNumber"].as_str().map(str::to_string),
            memory_gib: s["MemorySummary"]["TotalSystemMemoryGiB"]
                .as_f64()
                .map(|g| g as u64),
            cpus: s["ProcessorSummary"]["Count"].as_u64(),
            macs: self.macs(node, &sys).await?,
        })
    }
}

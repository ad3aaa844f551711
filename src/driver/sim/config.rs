//! Simulator settings: latency per step (scaled, so tests run fast), fault injection (a rate of
//! transient errors, permanent failures on named nodes or steps, hangs that exercise timeouts)
//! and a random seed. Read from a YAML file (`--sim-config`) and overridden by flags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A node and/or step a fault applies to; an absent field matches any.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub node: Option<String>,
    pub step: Option<String>,
}

impl Fault {
    pub fn matches(&self, node: &str, step: &str) -> bool {
        self.node.as_deref().is_none_or(|n| n == node)
            && self.step.as_deref().is_none_or(|s| s == step)
    }

    /// `NODE`, `NODE:STEP` or `:STEP` (command-line form).
    pub fn parse(s: &str) -> Fault {
        let (n, st) = s.split_once(':').unwrap_or((s, ""));
        let opt = |x: &str| (!x.is_empty()).then(|| x.to_string());
        Fault {
            node: opt(n),
            step: opt(st),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// Simulated duration of each step in milliseconds, by step name; `default` for the rest.
    pub latency_ms: BTreeMap<String, u64>,
    /// Multiplies every latency (0 = instant, 0.001 = a thousand times faster than real).
    pub time_scale: f64,
    /// Probability that any call fails with a transient error.
    pub transient_rate: f64,
    /// Permanent failures.
    pub fail: Vec<Fault>,
    /// Calls that never finish (they answer "in progress" forever).
    pub hang: Vec<Fault>,
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        // Realistic orders of magnitude (MAAS commissioning takes minutes), scaled down by
        // default so a demo apply takes seconds.
        let latency_ms = [
            ("default", 2_000),
            ("identify", 5_000),
            ("configure_hardware", 60_000),
            ("deploy", 120_000),
            ("destroy", 30_000),
            ("power_cycle", 5_000),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        SimConfig {
            latency_ms,
            time_scale: 0.01,
            transient_rate: 0.0,
            fail: Vec::new(),
            hang: Vec::new(),
            seed: 1,
        }
    }
}

impl SimConfig {
    /// The scaled latency of a step.
    pub fn latency(&self, step: &str) -> std::time::Duration {
        let ms = self
            .latency_ms
            .get(step)
            .or_else(|| self.latency_ms.get("default"))
            .copied()
            .unwrap_or(0);
        std::time::Duration::from_secs_f64(ms as f64 * self.time_scale.max(0.0) / 1000.0)
    }

    /// Check that every fault names a node of the design (or `site`, for the site's steps)
    /// and a step the simulator has, so a typo does not silently inject nothing.
    pub fn check_faults(&self, nodes: &[&str]) -> Result<(), String> {
        let steps: Vec<&str> = crate::vocab::StepKind::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        for (flag, f) in self
            .fail
            .iter()
            .map(|f| ("fail", f))
            .chain(self.hang.iter().map(|f| ("hang", f)))
        {
            let shown = format!(
                "{}{}",
                f.node.as_deref().unwrap_or(""),
                f.step.as_ref().map_or(String::new(), |s| format!(":{s}"))
            );
            if let Some(n) = &f.node
                && n != "site"
                && !nodes.contains(&n.as_str())
            {
                let mut known: Vec<&str> = nodes.to_vec();
                known.sort_unstable();
                let list = if known.len() > 20 {
                    format!("{}, … ({} nodes)", known[..20].join(", "), known.len())
                } else {
                    known.join(", ")
                };
                return Err(format!(
                    "--sim-{flag} {shown}: the design has no node `{n}`; its nodes are {list} (and `site` for the site's steps)"
                ));
            }
            if let Some(st) = &f.step
                && !steps.contains(&st.as_str())
            {
                return Err(format!(
                    "--sim-{flag} {shown}: the simulator has no step `{st}`; its steps are {}",
                    steps.join(", ")
                ));
            }
        }
        Ok(())
    }

    pub fn from_yaml(text: &str) -> Result<SimConfig, String> {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }
}

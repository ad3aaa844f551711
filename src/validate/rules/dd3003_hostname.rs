//! DD3003 hostname: FQDNs and their labels are valid hostnames.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct Hostname;

static INFO: RuleInfo = RuleInfo {
    code: "DD3003",
    name: "hostname",
    severity: Severity::Error,
    summary: "FQDNs and their labels are valid hostnames",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for Hostname {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

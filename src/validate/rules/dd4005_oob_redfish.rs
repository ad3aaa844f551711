//! DD4005 oob-redfish: Redfish nodes have an account, a credential and a static address on the OOB network.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct OobRedfish;

static INFO: RuleInfo = RuleInfo {
    code: "DD4005",
    name: "oob-redfish",
    severity: Severity::Error,
    summary: "Redfish nodes have an account, a credential and a static address on the OOB network",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for OobRedfish {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

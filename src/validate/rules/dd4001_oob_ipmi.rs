//! DD4001 oob-ipmi: IPMI nodes have an account, a credential, an OOB network and a static address on it.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct OobIpmi;

static INFO: RuleInfo = RuleInfo {
    code: "DD4001",
    name: "oob-ipmi",
    severity: Severity::Error,
    summary: "IPMI nodes have an account, a credential, an OOB network and a static address on it",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for OobIpmi {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

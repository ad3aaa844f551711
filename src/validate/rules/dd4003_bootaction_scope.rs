//! DD4003 bootaction-scope: every node is targeted by at least one boot action.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct BootactionScope;

static INFO: RuleInfo = RuleInfo {
    code: "DD4003",
    name: "bootaction-scope",
    severity: Severity::Warning,
    summary: "every node is targeted by at least one boot action",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for BootactionScope {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

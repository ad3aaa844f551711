//! DD4006 duplicate-oob: no two nodes share one BMC address.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct DuplicateOob;

static INFO: RuleInfo = RuleInfo {
    code: "DD4006",
    name: "duplicate-oob",
    severity: Severity::Error,
    summary: "no two nodes share one BMC address",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for DuplicateOob {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

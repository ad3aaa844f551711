//! DD2011 duplicate-mac: no boot MAC is used by two nodes.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct DuplicateMac;

static INFO: RuleInfo = RuleInfo {
    code: "DD2011",
    name: "duplicate-mac",
    severity: Severity::Error,
    summary: "no boot MAC is used by two nodes",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for DuplicateMac {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

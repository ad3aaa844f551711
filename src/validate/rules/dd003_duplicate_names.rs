//! DD003 duplicate-names: no two documents of one kind share a name.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct DuplicateNames;

static INFO: RuleInfo = RuleInfo {
    code: "DD003",
    name: "duplicate-names",
    severity: Severity::Error,
    summary: "no two documents of one kind share a name",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for DuplicateNames {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

//! DD1010 storage-sizing: sizes parse, and percentages add up to at most 99% per device and per volume group.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct StorageSizing;

static INFO: RuleInfo = RuleInfo {
    code: "DD1010",
    name: "storage-sizing",
    severity: Severity::Error,
    summary: "sizes parse, and percentages add up to at most 99% per device and per volume group",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for StorageSizing {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

//! DD1011 storage-mountpoints: no mountpoint is used twice on one node.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct StorageMountpoints;

static INFO: RuleInfo = RuleInfo {
    code: "DD1011",
    name: "storage-mountpoints",
    severity: Severity::Error,
    summary: "no mountpoint is used twice on one node",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for StorageMountpoints {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

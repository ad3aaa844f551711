//! DD1001 boot-storage: a root filesystem of at least 20 GB and a /boot of at least 1 GB, with absolute sizes.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct BootStorage;

static INFO: RuleInfo = RuleInfo {
    code: "DD1001",
    name: "boot-storage",
    severity: Severity::Error,
    summary: "a root filesystem of at least 20 GB and a /boot of at least 1 GB, with absolute sizes",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for BootStorage {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

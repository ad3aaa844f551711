//! DD1009 storage-partitioning: devices have partitions or a volume group; partitions a filesystem or a volume group; volume groups a physical volume.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct StoragePartitioning;

static INFO: RuleInfo = RuleInfo {
    code: "DD1009",
    name: "storage-partitioning",
    severity: Severity::Error,
    summary: "devices have partitions or a volume group; partitions a filesystem or a volume group; volume groups a physical volume",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for StoragePartitioning {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

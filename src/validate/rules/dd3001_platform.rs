//! DD3001 platform: images and kernels are ones the provisioner offers.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct Platform;

static INFO: RuleInfo = RuleInfo {
    code: "DD3001",
    name: "platform",
    severity: Severity::Error,
    summary: "images and kernels are ones the provisioner offers",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for Platform {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

//! DD1008 hugepages: kernel params hugepagesz and hugepages appear together or not at all.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct Hugepages;

static INFO: RuleInfo = RuleInfo {
    code: "DD1008",
    name: "hugepages",
    severity: Severity::Error,
    summary: "kernel params hugepagesz and hugepages appear together or not at all",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for Hugepages {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

//! DD2007 range-overlap: the address ranges of one network do not overlap.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct RangeOverlap;

static INFO: RuleInfo = RuleInfo {
    code: "DD2007",
    name: "range-overlap",
    severity: Severity::Error,
    summary: "the address ranges of one network do not overlap",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for RangeOverlap {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

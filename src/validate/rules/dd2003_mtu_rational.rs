//! DD2003 mtu-rational: MTUs are within 1280..=65536 and a network's MTU fits its link's.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct MtuRational;

static INFO: RuleInfo = RuleInfo {
    code: "DD2003",
    name: "mtu-rational",
    severity: Severity::Error,
    summary: "MTUs are within 1280..=65536 and a network's MTU fits its link's",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for MtuRational {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

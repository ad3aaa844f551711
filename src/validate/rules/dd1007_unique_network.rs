//! DD1007 unique-network: a network rides at most one link, and an interface's networks are allowed on its link.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct UniqueNetwork;

static INFO: RuleInfo = RuleInfo {
    code: "DD1007",
    name: "unique-network",
    severity: Severity::Error,
    summary: "a network rides at most one link, and an interface's networks are allowed on its link",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for UniqueNetwork {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

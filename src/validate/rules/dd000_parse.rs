//! DD000 parse: YAML syntax, unreadable or non-UTF-8 files, unknown drydock kinds or versions; duplicate keys and YAML 1.1 traps (warnings).

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct Parse;

static INFO: RuleInfo = RuleInfo {
    code: "DD000",
    name: "parse",
    severity: Severity::Error,
    summary: "YAML syntax, unreadable or non-UTF-8 files, unknown drydock kinds or versions; duplicate keys and YAML 1.1 traps (warnings)",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for Parse {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

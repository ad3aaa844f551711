//! DD001 schema: every document against its kind's JSON schema: types, enums, required fields, closed objects.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct Schema;

static INFO: RuleInfo = RuleInfo {
    code: "DD001",
    name: "schema",
    severity: Severity::Error,
    summary: "every document against its kind's JSON schema: types, enums, required fields, closed objects",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for Schema {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

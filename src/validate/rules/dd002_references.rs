//! DD002 references: every named reference resolves: profiles (without loops), hardware profiles, networks, links, racks, kernel-param hardware references.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct References;

static INFO: RuleInfo = RuleInfo {
    code: "DD002",
    name: "references",
    severity: Severity::Error,
    summary: "every named reference resolves: profiles (without loops), hardware profiles, networks, links, racks, kernel-param hardware references",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for References {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

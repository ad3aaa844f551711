//! DD4004 bootaction-packages: pkg_list assets have packages or a location, with Debian version strings.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct BootactionPackages;

static INFO: RuleInfo = RuleInfo {
    code: "DD4004",
    name: "bootaction-packages",
    severity: Severity::Error,
    summary: "pkg_list assets have packages or a location, with Debian version strings",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for BootactionPackages {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

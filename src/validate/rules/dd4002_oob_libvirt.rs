//! DD4002 oob-libvirt: libvirt nodes have a qemu+ssh libvirt_uri and a boot MAC.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct OobLibvirt;

static INFO: RuleInfo = RuleInfo {
    code: "DD4002",
    name: "oob-libvirt",
    severity: Severity::Error,
    summary: "libvirt nodes have a qemu+ssh libvirt_uri and a boot MAC",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for OobLibvirt {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

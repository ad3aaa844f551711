//! DD003 duplicate-names: no two documents of one kind share a name.
//!
//! The model already found the duplicates while indexing documents by (kind, name), so this
//! rule only reports them: O(duplicates). More than one Region is allowed (the last one read
//! is the site) but each earlier one gets a warning.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct DuplicateNames;

static INFO: RuleInfo = RuleInfo {
    code: "DD003",
    name: "duplicate-names",
    severity: Severity::Error,
    summary: "no two documents of one kind share a name",
    explanation: "\
Documents refer to each other by kind and name, so two documents of one kind with one name make
every reference to that name ambiguous. drydock uses the first one read and reports every later
one as an error, pointing at the first. Documents of different kinds may share a name (a
Network and a NetworkLink both called `pxe` are fine).

A site has one Region, whose name is the site name. Rendered site repositories often carry a
leftover Region document, so more than one Region is a warning, not an error: the last one read
is the site, and every other Region is reported, naming the one in use.

The old implementation silently used the first document of a name and ignored the others.",
    bad: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: storage}
data:
  cidr: 172.16.3.0/24
---
schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: storage}
data:
  cidr: 172.16.4.0/24
"#,
    good: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: storage}
data:
  cidr: 172.16.3.0/24
---
schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: storage-b}
data:
  cidr: 172.16.4.0/24
"#,
};

impl Rule for DuplicateNames {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        for d in &cx.site.duplicates {
            out.push(
                Finding::error(INFO.code, d.name.loc, format!("a second {} is named `{}`", d.kind, d.name.v))
                    .label("duplicate name")
                    .related(d.first, "first defined here; this one is used")
                    .help(format!(
                        "rename or remove one of the two; every reference to `{}` resolves to the first, and this one is ignored",
                        d.name.v
                    )),
            );
        }
        let regions = &cx.site.regions;
        if let Some((site, others)) = regions.split_last() {
            for r in others {
                out.push(
                    Finding::warning(
                        INFO.code,
                        r.name.loc,
                        format!(
                            "Region `{}` is ignored: the site is Region `{}`, the last one read",
                            r.name.v, site.name.v
                        ),
                    )
                    .label("ignored Region")
                    .related(site.name.loc, "the site's Region")
                    .help("a site has one Region; remove the leftover Region document"),
                );
            }
        }
    }
}

//! DD4004 bootaction-packages: pkg_list assets have packages or a location, with Debian version strings.
//!
//! One pass over the assets and their packages: O(n). A version is checked by a small parser
//! of Debian's `[epoch:]upstream[-revision]` rather than a regular expression.

use crate::design::yaml::Value;
use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct BootactionPackages;

static INFO: RuleInfo = RuleInfo {
    code: "DD4004",
    name: "bootaction-packages",
    severity: Severity::Error,
    summary: "pkg_list assets have packages or a location, with Debian version strings",
    explanation: "\
A boot action asset of `type: pkg_list` installs packages on the node at first boot. It needs
its package list: inline, as `data` mapping each package name to a version (null for any
version), or fetched from a `location`. An asset with neither, or with an empty map, installs
nothing and is an error. (When `data` is a string, it is the list in YAML text, possibly
encoded for a `data_pipeline`, and cannot be checked before it is rendered.)

Each version is handed to the package manager as `package=version`, so it must be a Debian
version: `[epoch:]upstream[-revision]`, where the epoch is a number, the upstream version
starts with a digit and holds letters, digits and `.+~-`, and the optional revision holds
letters, digits and `.+~` (`1.2.3`, `1.2.3-1ubuntu1`, `2:8.2.3995-1`).

The old implementation's pattern demanded a revision, so it rejected plain upstream versions
such as `1.2.3`; drydock accepts them (fix).",
    bad: r#"schema: drydock/BootAction/v1
metadata: {schema: metadata/Document/v1, name: packages}
data:
  assets:
    - type: pkg_list
      data: {openssh-server: 'v8.2', chrony: null}
"#,
    good: r#"schema: drydock/BootAction/v1
metadata: {schema: metadata/Document/v1, name: packages}
data:
  assets:
    - type: pkg_list
      data: {openssh-server: '1:8.2p1-4ubuntu0.5', chrony: null}
"#,
};

impl Rule for BootactionPackages {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        for ba in &cx.site.boot_actions {
            let written = cx
                .design
                .documents
                .get(ba.doc.0 as usize)
                .and_then(|d| d.data.get("assets"))
                .and_then(|a| a.as_seq());
            for (i, asset) in ba.assets.iter().enumerate() {
                if asset.kind.as_ref().is_none_or(|k| k.v != "pkg_list") {
                    continue;
                }
                let loc = asset.kind.as_ref().map_or(asset.loc, |k| k.loc);
                if asset.location.is_none() && asset.packages.is_empty() {
                    // `data` given as text is a list still to be rendered: nothing to check.
                    let data = written.and_then(|a| a.get(i)).and_then(|a| a.get("data"));
                    let text = data.is_some_and(|d| matches!(d.value, Value::Str(_)));
                    if !text {
                        let (at, msg) = match data.filter(|_| asset.has_data) {
                            Some(d) => (
                                d.loc,
                                "pkg_list asset has an empty package list and no `location`",
                            ),
                            None => (
                                loc,
                                "pkg_list asset has no packages: neither `data` nor `location` is given",
                            ),
                        };
                        out.push(
                            Finding::error(INFO.code, at, msg)
                                .label("nothing to install")
                                .related(ba.name.loc, "in this boot action")
                                .help("list the packages in `data` (`{package: version}`, null for any version), or give the `location` to fetch the list from"),
                        );
                    }
                }
                for (pkg, version) in &asset.packages {
                    let Some(v) = version else { continue };
                    if v.v.is_empty() || is_debian_version(&v.v) {
                        continue;
                    }
                    out.push(
                        Finding::error(INFO.code, v.loc, format!("version `{}` of package `{}` is not a Debian version", v.v, pkg.v))
                            .label("not [epoch:]upstream[-revision]")
                            .help("write `[epoch:]upstream[-revision]` with the upstream version starting with a digit (`1.2.3`, `1.2.3-1ubuntu1`, `2:8.2.3995-1`), or null for any version"),
                    );
                }
            }
        }
    }
}

/// A Debian version: `[epoch:]upstream[-revision]`. The epoch is digits; the upstream version
/// starts with a digit and holds alphanumerics and `.+~-` (a `-` only when there is a
/// revision, which is what follows the last `-`); the revision holds alphanumerics and `.+~`.
pub fn is_debian_version(v: &str) -> bool {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) => (Some(e), r),
        None => (None, v),
    };
    if epoch.is_some_and(|e| e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, Some(r)),
        None => (rest, None),
    };
    let revision_ok = revision.is_none_or(|r| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+.~".contains(&b))
    });
    let upstream_ok = upstream.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && upstream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+.~-".contains(&b));
    revision_ok && upstream_ok
}

#[cfg(test)]
mod tests {
    use super::is_debian_version;

    #[test]
    fn debian_versions() {
        for ok in [
            "1",
            "1.2.3",
            "1.2.3-1",
            "1.2.3-1ubuntu1",
            "2:8.2.3995-1",
            "1:8.2p1-4ubuntu0.5",
            "1.0~rc1",
            "1.0+dfsg-2",
            "1.2-3-4",
        ] {
            assert!(is_debian_version(ok), "{ok}");
        }
        for bad in [
            "v1.2", "latest", "", "1.2-", ":1.2", "a:1.2", "1.2_3", "1:2:3", "-1", "1.2-3 4",
        ] {
            assert!(!is_debian_version(bad), "{bad}");
        }
    }
}

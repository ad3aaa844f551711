//! Validation: every rule of the rule table (README.md, `drydock rules`) run over the effective site, each finding with
//! its rule's code and the location of the value it is about. Rules live one per file in
//! `rules/`; this module holds the rule interface, the registry and the run. It never stops at
//! the first finding, and it does no I/O.

pub mod examples;
pub mod rules;

use crate::design::Design;
use crate::diag::{Finding, Severity, consolidate};
use crate::model::Site;

pub use crate::vocab::Catalog;

/// What a rule is: its stable code and name, and the text `drydock explain` prints.
#[derive(Debug)]
pub struct RuleInfo {
    /// Stable code, e.g. `DD2005`.
    pub code: &'static str,
    /// Stable kebab-case name, e.g. `duplicate-ips`.
    pub name: &'static str,
    /// The severity of most of its findings (some rules also warn).
    pub severity: Severity,
    /// One line: what the rule checks.
    pub summary: &'static str,
    /// Paragraphs: why it matters and how it differs from the old implementation.
    pub explanation: &'static str,
    /// Documents (YAML) that break the rule, on top of the example base site.
    pub bad: &'static str,
    /// The same documents, fixed.
    pub good: &'static str,
}

/// Everything a rule may look at.
pub struct Context<'a> {
    pub design: &'a Design,
    pub site: &'a Site,
    pub options: &'a Options,
}

/// A validation rule. Implementations are stateless and must be O(n log n) or better in the
/// number of nodes, addresses and networks: no pairwise loops over all of them.
pub trait Rule: Sync {
    fn info(&self) -> &'static RuleInfo;
    /// Report every violation, not only the first.
    fn check(&self, cx: &Context, out: &mut Vec<Finding>);
}

/// Options of a validation run.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Run only these rule codes (empty: all).
    pub only: Vec<String>,
    /// Do not run these rule codes.
    pub skip: Vec<String>,
    /// The images and kernels the provisioner offers; `None` when no driver can say.
    pub catalog: Option<Catalog>,
}

impl Options {
    fn enabled(&self, code: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|c| c.eq_ignore_ascii_case(code)))
            && !self.skip.iter().any(|c| c.eq_ignore_ascii_case(code))
    }
}

/// Every rule, in code order.
pub fn all_rules() -> &'static [&'static dyn Rule] {
    rules::ALL
}

pub fn rule(code: &str) -> Option<&'static dyn Rule> {
    all_rules()
        .iter()
        .copied()
        .find(|r| r.info().code.eq_ignore_ascii_case(code))
}

/// A rule's info by code (codes come from findings, so they always resolve).
pub fn info(code: &str) -> Option<&'static RuleInfo> {
    rule(code).map(|r| r.info())
}

/// The result of validating a design.
pub struct Report {
    pub site: Site,
    /// Every finding, consolidated (one per value, naming every node it affects) and sorted.
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.is_error()).count()
    }
    /// Warnings only: notes are never counted as failures.
    pub fn warnings(&self) -> usize {
        self.findings.iter().filter(|f| f.is_warning()).count()
    }

    /// The site, if no finding is an error.
    pub fn into_valid(self) -> Result<Valid<Site>, Box<Report>> {
        if self.errors() == 0 {
            Ok(Valid(self.site))
        } else {
            Err(Box::new(self))
        }
    }
}

/// A value that passed validation. Only [`Report::into_valid`] makes one, so a function that
/// takes `&Valid<Site>` need not check again.
#[derive(Debug)]
pub struct Valid<T>(T);

impl<T> std::ops::Deref for Valid<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Build the effective site from a loaded design and run every enabled rule.
pub fn validate(design: &Design, options: &Options) -> Report {
    let site = crate::model::build(design);
    let mut findings: Vec<Finding> = design
        .findings
        .iter()
        .filter(|f| options.enabled(f.code))
        .cloned()
        .collect();
    {
        let cx = Context {
            design,
            site: &site,
            options,
        };
        let enabled: Vec<&dyn Rule> = all_rules()
            .iter()
            .copied()
            .filter(|r| options.enabled(r.info().code))
            .collect();
        // Rules are independent and read-only: run them on every core, then concatenate their
        // findings in registry order so the output does not depend on scheduling.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(enabled.len())
            .max(1);
        let mut per_rule: Vec<(usize, Vec<Finding>)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let (cx, enabled) = (&cx, &enabled);
                    s.spawn(move || {
                        let mut mine = Vec::new();
                        for (i, r) in enabled.iter().enumerate().filter(|(i, _)| i % threads == t) {
                            let mut out = Vec::new();
                            r.check(cx, &mut out);
                            mine.push((i, out));
                        }
                        mine
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        per_rule.sort_by_key(|(i, _)| *i);
        findings.extend(per_rule.into_iter().flat_map(|(_, f)| f));
    }
    let mut findings = consolidate(findings);
    if design.provenance.is_some() {
        // Findings about rendered values say how the value arrived (rendering's own
        // findings are about the layering itself).
        for f in findings
            .iter_mut()
            .filter(|f| !matches!(f.code, "DD005" | "DD006" | "DD007" | "DD008" | "DD009"))
        {
            design.annotate(f);
        }
    }
    Report { site, findings }
}

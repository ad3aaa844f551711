//! The one set of helpers the rule tests share: a design is documents over the example base
//! site (`validate::examples`), validated with every rule; `check` asserts the count of one
//! rule's findings and that nothing else is an error.

#![allow(dead_code)]

use drydock::design::{self, Design};
use drydock::diag::Finding;
use drydock::validate::{self, Options, examples};

/// Every rule, with the simulator's image catalogue (DD3001).
pub fn options() -> Options {
    Options {
        catalog: Some(validate::Catalog::simulator()),
        ..Options::default()
    }
}

/// Validate exactly `text`, without the base site.
pub fn run_raw(text: &str) -> Vec<Finding> {
    let d = design::load_str("test.yaml", text);
    validate::validate(&d, &options()).findings
}

/// Validate `documents` over the base site with `options`.
pub fn run_with(documents: &str, options: &Options) -> Vec<Finding> {
    let d = design::load_str("test.yaml", &examples::compose(documents));
    validate::validate(&d, options).findings
}

/// The loaded design too, for locations.
pub fn run_design(documents: &str) -> (Design, Vec<Finding>) {
    let d = design::load_str("test.yaml", &examples::compose(documents));
    let findings = validate::validate(&d, &options()).findings;
    (d, findings)
}

/// Validate `documents` over the base site with every rule.
pub fn run(documents: &str) -> Vec<Finding> {
    run_with(documents, &options())
}

/// The findings of rule `code` for `documents` over the base site.
pub fn findings(code: &str, documents: &str) -> Vec<Finding> {
    run(documents)
        .into_iter()
        .filter(|f| f.code == code)
        .collect()
}

/// The messages of rule `code`'s findings for `documents` over the base site.
pub fn fired(code: &str, documents: &str) -> Vec<String> {
    findings(code, documents)
        .into_iter()
        .map(|f| f.message)
        .collect()
}

/// Assert that `documents` over the base site give exactly `n` findings of rule `code` and no
/// other error.
#[track_caller]
pub fn check(code: &str, documents: &str, n: usize) {
    let all = run(documents);
    let mine: Vec<_> = all.iter().filter(|f| f.code == code).collect();
    let others: Vec<_> = all
        .iter()
        .filter(|f| f.code != code && f.is_error())
        .collect();
    assert_eq!(
        mine.len(),
        n,
        "{code}: expected {n} findings, got {mine:#?}"
    );
    assert!(
        others.is_empty(),
        "{code}: unexpected other errors: {others:#?}"
    );
}

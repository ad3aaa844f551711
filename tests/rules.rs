//! Per-rule tests: each rule's example documents (from `drydock explain`) over the example
//! base site, and firing and non-firing cases per rule. `check` is the one helper: a design
//! (documents over the base site) and the codes expected, in order.

use drydock::validate::{self};

mod rules_support;
use rules_support::*;

#[test]
fn base_site_is_clean() {
    let all = run("");
    assert!(all.is_empty(), "{all:#?}");
}

#[test]
fn every_rule_has_a_bad_and_a_good_example_that_behave() {
    for r in validate::all_rules() {
        let i = r.info();
        assert!(
            !i.explanation.is_empty() && i.explanation != "TODO",
            "{}: no explanation",
            i.code
        );
        if i.code == "DD000" || i.code == "DD001" {
            // Load-time rules: their examples are whole documents, checked in their own tests.
            continue;
        }
        assert!(
            !i.bad.is_empty() && !i.good.is_empty(),
            "{}: no examples",
            i.code
        );
        let bad = run(i.bad);
        assert!(
            bad.iter().any(|f| f.code == i.code),
            "{}: bad example does not fire: {bad:#?}",
            i.code
        );
        let good = run(i.good);
        assert!(
            !good.iter().any(|f| f.code == i.code),
            "{}: good example fires: {good:#?}",
            i.code
        );
        assert!(
            !good.iter().any(|f| f.is_error()),
            "{}: good example has errors: {good:#?}",
            i.code
        );
    }
}

#[test]
fn every_bad_example_fails_on_something_it_shows() {
    // `drydock explain` prints only the example: what fails must be in it, not in the base
    // site it is written against.
    for r in validate::all_rules() {
        let i = r.info();
        if i.code == "DD000" || i.code == "DD001" {
            continue;
        }
        let text = drydock::validate::examples::compose(i.bad);
        let shown = text.len() - i.bad.len();
        let findings = run(i.bad);
        let mine: Vec<_> = findings.iter().filter(|f| f.code == i.code).collect();
        assert!(
            mine.iter().any(|f| {
                std::iter::once(f.loc)
                    .chain(f.related.iter().map(|r| r.loc))
                    .any(|l| l.start as usize >= shown)
            }),
            "{}: the bad example fails only outside what it shows: {mine:#?}",
            i.code
        );
    }
}

#[test]
fn codes_and_names_are_unique() {
    let rules = validate::all_rules();
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            assert_ne!(a.info().code, b.info().code);
            assert_ne!(a.info().name, b.info().name);
        }
    }
}

// DD2005 duplicate-ips

const NODE3: &str = r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n3}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:03'}
  addressing:
    - {network: oob, address: OOB}
    - {network: mgmt, address: MGMT}
"#;

#[test]
fn dd2005_fires_on_each_repeat() {
    let n3 = NODE3
        .replace("OOB", "172.16.0.13")
        .replace("MGMT", "172.16.2.11");
    check("DD2005", &n3, 1);
    assert!(fired("DD2005", &n3)[0].contains("172.16.2.11"));
    // A shared address on the oob network is a shared BMC endpoint: DD4006's, not DD2005's.
    let n3 = NODE3
        .replace("OOB", "172.16.0.11")
        .replace("MGMT", "172.16.2.13");
    assert!(fired("DD2005", &n3).is_empty());
    assert_eq!(fired("DD4006", &n3).len(), 1);
}

#[test]
fn dd2005_quiet_on_distinct_addresses() {
    check(
        "DD2005",
        &NODE3
            .replace("OOB", "172.16.0.13")
            .replace("MGMT", "172.16.2.13"),
        0,
    );
}

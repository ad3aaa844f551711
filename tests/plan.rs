//! Planning the demo site (`designs/demo`) against observed states built by hand: `plan` is
//! pure, so each test writes the build model it needs instead of running a driver. Snapshots
//! of the human output (no colour), the JSON plan and the DOT graph live in
//! `tests/snapshots/plan__*.snap`; update with `INSTA_UPDATE=always cargo test --test plan`,
//! then read every changed snapshot.
//!
//! The design hash is a fixed string here (it hashes file paths, which differ between a
//! checkout and a temporary copy), so snapshots change only when the plan does.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use drydock::cli::planfile::SavedPlan;
use drydock::model::filter::{SetOp, from_targets};
use drydock::model::observed::{Failure, Observed, ObservedNode, Power, Snapshot, Status};
use drydock::model::{BaremetalNode, Site};
use drydock::plan::{
    self, Action, NodeChange, Options, Plan, Reason, StepKind, TaskKind, graph, render, snapshot,
};
use drydock::validate::{self, Catalog, Valid};
use proptest::prelude::*;

const DESIGN_HASH: &str = "demo-design-hash";

/// The demo nodes, in design order.
const NODES: [&str; 8] = [
    "node-a01", "node-a02", "node-a03", "node-b01", "node-b02", "node-b03", "node-c01", "node-c02",
];

// ---------------------------------------------------------------------------------------------
// Helpers: one way to load, observe, plan and render, so a refactor touches one function.

/// Load and validate a design directory; panics with the findings if it has errors.
fn load(dir: &Path) -> Valid<Site> {
    let design = drydock::design::load(&[dir.to_path_buf()]).expect("design loads");
    let report = validate::validate(
        &design,
        &validate::Options {
            catalog: Some(Catalog::simulator()),
            ..Default::default()
        },
    );
    let findings: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| format!("{} {}", f.code, f.message))
        .collect();
    match report.into_valid() {
        Ok(site) => site,
        Err(_) => panic!("{} does not validate: {findings:#?}", dir.display()),
    }
}

/// The demo site, validated once.
fn demo() -> &'static Valid<Site> {
    static DEMO: OnceLock<Valid<Site>> = OnceLock::new();
    DEMO.get_or_init(|| load(Path::new("designs/demo")))
}

/// A copy of the demo design with text replacements `(file, from, to)`; each `from` must occur
/// exactly once in its file.
fn demo_with(edits: &[(&str, &str, &str)]) -> (tempfile::TempDir, Valid<Site>) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("designs/demo"), dir.path());
    for (file, from, to) in edits {
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(from).count(), 1, "`{from}` once in {file}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }
    let site = load(dir.path());
    (dir, site)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn node<'a>(site: &'a Site, name: &str) -> &'a BaremetalNode {
    site.node(name)
        .unwrap_or_else(|| panic!("{name} in the design"))
}

fn options() -> Options {
    Options {
        design_hash: DESIGN_HASH.into(),
        ..Options::default()
    }
}

/// A node drydock deployed with `snap`, as the driver and the state store report it.
fn deployed_with(snap: Snapshot) -> ObservedNode {
    ObservedNode {
        power: Power::On,
        status: Status::Deployed,
        deployed_fingerprint: Some(snapshot::fingerprint(&snap)),
        recorded_fingerprint: Some(snapshot::fingerprint(&snap)),
        deployed: Some(snap),
        generation: 1,
        last_failure: None,
        unfinished: None,
    }
}

/// A node deployed with exactly its design configuration.
fn deployed(site: &Site, n: &BaremetalNode) -> ObservedNode {
    deployed_with(snapshot::node(site, n))
}

/// Nothing deployed: the provisioner knows no machine, drydock recorded nothing.
fn nothing() -> Observed {
    Observed {
        source: "test".into(),
        ..Observed::default()
    }
}

/// Every node and the site deployed exactly as designed.
fn all_deployed(site: &Site) -> Observed {
    Observed {
        nodes: site
            .nodes
            .iter()
            .map(|n| (n.name.v.clone(), deployed(site, n)))
            .collect(),
        site: Some(snapshot::site(site)),
        site_generation: 1,
        source: "test".into(),
        foreign: Vec::new(),
    }
}

fn plan_demo(observed: &Observed) -> Plan {
    plan::plan(demo(), observed, &options())
}

fn human(p: &Plan) -> String {
    render::human(p, &render::Style { color: false })
}

fn json(p: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(p).unwrap();
    s.push('\n');
    s
}

fn dot(p: &Plan) -> String {
    graph::dot(&p.tasks)
}

/// Snapshot the three outputs of a plan as `<name>-human`, `<name>-json` and `<name>-dot`.
fn snapshot_outputs(name: &str, p: &Plan) {
    insta::assert_snapshot!(format!("{name}-human"), human(p));
    insta::assert_snapshot!(format!("{name}-json"), json(p));
    insta::assert_snapshot!(format!("{name}-dot"), dot(p));
}

fn change<'a>(p: &'a Plan, name: &str) -> &'a NodeChange {
    p.nodes
        .iter()
        .find(|n| n.node == name)
        .unwrap_or_else(|| panic!("{name} in the plan"))
}

/// The kinds of the tasks of one node (`None`: the site's), in plan order.
fn kinds(p: &Plan, name: Option<&str>) -> Vec<TaskKind> {
    p.tasks
        .iter()
        .filter(|t| t.node.as_deref() == name)
        .map(|t| t.kind)
        .collect()
}

/// The nodes that have tasks.
fn nodes_with_tasks(p: &Plan) -> BTreeSet<&str> {
    p.tasks.iter().filter_map(|t| t.node.as_deref()).collect()
}

/// Every node's action, by name.
fn actions(p: &Plan) -> Vec<(&str, Action)> {
    p.nodes
        .iter()
        .map(|n| (n.node.as_str(), n.action))
        .collect()
}

/// Each task's dependencies come before it, and the tasks form a DAG.
fn assert_dependency_order(p: &Plan) {
    let mut seen = BTreeSet::new();
    for t in &p.tasks {
        for d in &t.depends_on {
            assert!(
                seen.contains(d),
                "{} depends on {d}, which does not come before it",
                t.label()
            );
        }
        assert!(seen.insert(&t.id), "task id {} twice", t.id);
    }
    assert!(graph::graph(&p.tasks).is_ok(), "the tasks form a DAG");
}

/// The old implementation's default step timeouts, in minutes, written out again rather than read from
/// `StepKind`, so that a changed table fails here.
fn format_md_timeout(k: StepKind) -> u64 {
    match k {
        StepKind::Identify => 10,
        StepKind::ConfigureHardware => 30,
        StepKind::ApplyNetworking | StepKind::ApplyStorage | StepKind::ApplyPlatform => 5,
        StepKind::Deploy => 45,
        StepKind::BootActionReport => 15,
        StepKind::Destroy => 30,
        _ => 5,
    }
}

fn assert_default_timeouts(p: &Plan) {
    for t in &p.tasks {
        for s in &t.steps {
            assert_eq!(
                s.timeout_secs,
                format_md_timeout(s.kind) * 60,
                "{} step {}",
                t.label(),
                s.kind
            );
        }
    }
}

/// The demo's node-a02 with its recorded snapshot edited: `(field, value)`, `None` removes.
fn recorded_a02(edits: &[(&str, Option<&str>)]) -> Snapshot {
    let mut s = snapshot::node(demo(), node(demo(), "node-a02"));
    for (field, value) in edits {
        assert!(s.contains_key(*field), "{field} in node-a02's snapshot");
        match value {
            Some(v) => s.insert(field.to_string(), v.to_string()),
            None => s.remove(*field),
        };
    }
    s
}

// ---------------------------------------------------------------------------------------------
// (a) Nothing deployed.

#[test]
fn nothing_deployed_deploys_every_node() {
    let p = plan_demo(&nothing());
    assert_eq!(p.format_version, 1);
    assert_eq!(p.site, "demo");
    assert_eq!(p.design_hash, DESIGN_HASH);
    let s = p.summary();
    assert_eq!((s.deploy, s.update, s.redeploy, s.destroy), (8, 0, 0, 0));
    assert_eq!((s.unchanged, s.orphaned), (0, 0));
    for n in &p.nodes {
        assert_eq!(n.action, Action::Deploy, "{}", n.node);
        assert!(!n.destructive, "{}", n.node);
        assert_eq!(
            n.reasons,
            vec![Reason::Status {
                status: Status::Unknown
            }],
            "{}",
            n.node
        );
    }
    // Sorted by rack, then name.
    let names: Vec<&str> = p.nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(names, NODES);
    // Nothing prepared yet: every network and link is created.
    assert!(!p.site_changes.is_empty());
    assert!(
        p.site_changes
            .iter()
            .all(|c| c.action == plan::SiteAction::Create)
    );
    assert_eq!(
        kinds(&p, None),
        [TaskKind::VerifySite, TaskKind::PrepareSite]
    );
    for name in NODES {
        assert_eq!(
            kinds(&p, Some(name)),
            [
                TaskKind::VerifyNode,
                TaskKind::PrepareNode,
                TaskKind::DeployNode
            ],
            "{name}"
        );
    }
    assert_eq!(p.tasks.len(), 2 + 3 * 8);
    assert!(p.has_changes());
    assert_dependency_order(&p);
    assert!(
        human(&p)
            .contains("Plan: 8 to deploy, 0 to update, 0 to redeploy, 0 to destroy, 0 unchanged.")
    );
    snapshot_outputs("a-nothing-deployed", &p);
}

// ---------------------------------------------------------------------------------------------
// (b) Everything deployed as designed.

#[test]
fn all_deployed_has_no_changes_and_no_tasks() {
    let p = plan_demo(&all_deployed(demo()));
    assert!(p.site_changes.is_empty(), "{:#?}", p.site_changes);
    assert!(p.tasks.is_empty(), "{:#?}", p.tasks);
    assert!(!p.has_changes());
    for n in &p.nodes {
        assert_eq!(n.action, Action::NoOp, "{}", n.node);
        assert!(n.reasons.is_empty(), "{}: {:?}", n.node, n.reasons);
    }
    assert_eq!(p.summary().unchanged, 8);
    let text = human(&p);
    assert!(text.starts_with("No changes."), "{text}");
    snapshot_outputs("b-all-deployed", &p);
}

#[test]
fn a_deployed_node_without_a_record_is_a_noop_when_its_fingerprint_matches() {
    // What the simulator alone reports: status and fingerprint, no recorded snapshot.
    let mut observed = all_deployed(demo());
    for o in observed.nodes.values_mut() {
        o.deployed = None;
    }
    let p = plan_demo(&observed);
    assert!(p.tasks.is_empty());
    assert_eq!(p.summary().unchanged, 8);
}

#[test]
fn a_deployed_node_with_an_unknown_fingerprint_and_no_record_is_redeployed() {
    let mut observed = all_deployed(demo());
    let o = observed.nodes.get_mut("node-b01").unwrap();
    o.deployed = None;
    o.deployed_fingerprint = Some("0123456789abcdef0123456789abcdef".into());
    let p = plan_demo(&observed);
    let c = change(&p, "node-b01");
    assert_eq!(c.action, Action::Redeploy);
    assert!(c.destructive);
    assert_eq!(
        c.reasons,
        vec![Reason::UnknownDeployedConfig {
            fingerprint: Some("0123456789abcdef0123456789abcdef".into())
        }]
    );
}

#[test]
fn deployed_nodes_without_a_site_record_plan_nothing() {
    let mut observed = all_deployed(demo());
    observed.site = None;
    observed.site_generation = 0;
    for o in observed.nodes.values_mut() {
        o.deployed = None;
    }
    let p = plan_demo(&observed);
    assert_eq!(p.summary().unchanged, 8);
    assert!(p.tasks.is_empty(), "{}", human(&p));
}

#[test]
fn a_recorded_deployment_matching_the_design_is_a_noop_without_a_driver_fingerprint() {
    let mut observed = all_deployed(demo());
    for o in observed.nodes.values_mut() {
        o.deployed_fingerprint = None;
    }
    let p = plan_demo(&observed);
    assert_eq!(p.summary().unchanged, 8, "{}", human(&p));
}

#[test]
fn hardware_profile_changes_reach_the_node_fingerprint() {
    let fp = |site: &Site| snapshot::fingerprint(&snapshot::node(site, node(site, "node-a02")));
    let before = fp(demo());
    let (_d, hugepages) = demo_with(&[("hardware.yaml", "count: 32", "count: 16")]);
    let (_d, disk) = demo_with(&[("hardware.yaml", "address: '0:2.0.0'", "address: '0:2.9.0'")]);
    assert_eq!(
        (fp(&hugepages) != before, fp(&disk) != before),
        (true, true),
        "(hugepages count, boot disk address) change the fingerprint"
    );
}

// ---------------------------------------------------------------------------------------------
// (c) One node's storage changed.

fn storage_changed() -> Observed {
    let mut observed = all_deployed(demo());
    observed.nodes.insert(
        "node-a02".into(),
        deployed_with(recorded_a02(&[(
            "storage.bootdisk.partitions.root.size",
            Some("20g"),
        )])),
    );
    observed
}

#[test]
fn storage_change_redeploys_that_node_only() {
    let p = plan_demo(&storage_changed());
    let c = change(&p, "node-a02");
    assert_eq!(c.action, Action::Redeploy);
    assert!(c.destructive);
    assert_eq!(
        c.reasons,
        vec![Reason::Changed {
            field: "storage.bootdisk.partitions.root.size".into(),
            before: Some("20g".into()),
            after: Some("30g".into()),
            rebuild: true,
        }]
    );
    for n in p.nodes.iter().filter(|n| n.node != "node-a02") {
        assert_eq!(n.action, Action::NoOp, "{}", n.node);
    }
    assert!(p.site_changes.is_empty());
    assert_eq!(nodes_with_tasks(&p), BTreeSet::from(["node-a02"]));
    assert_eq!(
        kinds(&p, Some("node-a02")),
        [
            TaskKind::VerifyNode,
            TaskKind::DestroyNode,
            TaskKind::PrepareNode,
            TaskKind::DeployNode
        ]
    );
    assert_eq!(
        kinds(&p, None),
        [TaskKind::VerifySite, TaskKind::PrepareSite]
    );
    assert_dependency_order(&p);
    let text = human(&p);
    assert!(
        text.contains("storage.bootdisk.partitions.root.size: 20g -> 30g  # forces redeploy"),
        "{text}"
    );
    assert!(text.contains("-/+ node-a02"), "{text}");
    assert!(
        text.contains("Plan: 0 to deploy, 0 to update, 1 to redeploy, 0 to destroy, 7 unchanged."),
        "{text}"
    );
    snapshot_outputs("c-storage-changed", &p);
}

#[test]
fn a_removed_partition_shows_its_fields_as_gone() {
    // The recorded configuration has a partition the design no longer has.
    let mut recorded = recorded_a02(&[]);
    recorded.insert("storage.bootdisk.partitions.swap.size".into(), "8g".into());
    let mut observed = all_deployed(demo());
    observed
        .nodes
        .insert("node-a02".into(), deployed_with(recorded));
    let p = plan_demo(&observed);
    let c = change(&p, "node-a02");
    assert_eq!(c.action, Action::Redeploy);
    assert_eq!(
        c.reasons,
        vec![Reason::Changed {
            field: "storage.bootdisk.partitions.swap.size".into(),
            before: Some("8g".into()),
            after: None,
            rebuild: true,
        }]
    );
    assert!(human(&p).contains("storage.bootdisk.partitions.swap.size: 8g -> (none)"));
}

#[test]
fn an_in_place_change_with_a_rebuild_change_redeploys_and_lists_both() {
    let observed = {
        let mut o = all_deployed(demo());
        o.nodes.insert(
            "node-a02".into(),
            deployed_with(recorded_a02(&[
                ("metadata.tags", Some("compute,dpdk")),
                ("platform.image", Some("bionic")),
            ])),
        );
        o
    };
    let p = plan_demo(&observed);
    let c = change(&p, "node-a02");
    assert_eq!(c.action, Action::Redeploy);
    let fields: Vec<(&str, bool)> = c
        .reasons
        .iter()
        .map(|r| match r {
            Reason::Changed { field, rebuild, .. } => (field.as_str(), *rebuild),
            other => panic!("unexpected reason {other:?}"),
        })
        .collect();
    assert_eq!(fields, [("metadata.tags", false), ("platform.image", true)]);
}

// ---------------------------------------------------------------------------------------------
// (d) A tag-only difference.

#[test]
fn tag_only_change_updates_in_place() {
    let mut observed = all_deployed(demo());
    observed.nodes.insert(
        "node-a02".into(),
        deployed_with(recorded_a02(&[("metadata.tags", Some("compute,dpdk"))])),
    );
    let p = plan_demo(&observed);
    let c = change(&p, "node-a02");
    assert_eq!(c.action, Action::Update);
    assert!(!c.destructive);
    assert_eq!(
        c.reasons,
        vec![Reason::Changed {
            field: "metadata.tags".into(),
            before: Some("compute,dpdk".into()),
            after: Some("compute,dpdk,high_memory".into()),
            rebuild: false,
        }]
    );
    assert_eq!(nodes_with_tasks(&p), BTreeSet::from(["node-a02"]));
    assert_eq!(
        kinds(&p, Some("node-a02")),
        [TaskKind::VerifyNode, TaskKind::UpdateNode]
    );
    assert_dependency_order(&p);
    let text = human(&p);
    assert!(
        text.contains("~ node-a02 will be updated in place"),
        "{text}"
    );
    assert!(!text.contains("forces redeploy"), "{text}");
    assert!(!text.contains("Warning"), "{text}");
    insta::assert_snapshot!("d-tag-changed-human", text);
}

#[test]
fn owner_data_and_bmc_changes_update_in_place() {
    let mut observed = all_deployed(demo());
    observed.nodes.insert(
        "node-a02".into(),
        deployed_with(recorded_a02(&[
            ("metadata.owner_data.role", Some("spare")),
            ("oob.account", Some("admin")),
        ])),
    );
    let p = plan_demo(&observed);
    assert_eq!(change(&p, "node-a02").action, Action::Update);
}

// ---------------------------------------------------------------------------------------------
// (e) A node removed from the design.

/// Every node deployed, and `node-c03`, which drydock deployed and the design no longer has.
fn one_removed() -> Observed {
    let mut observed = all_deployed(demo());
    let mut gone = snapshot::node(demo(), node(demo(), "node-c02"));
    gone.insert("addressing.mgmt".into(), "10.22.102.33".into());
    observed
        .nodes
        .insert("node-c03".into(), deployed_with(gone));
    observed
}

#[test]
fn removed_node_is_orphaned_without_destroy_removed() {
    let p = plan_demo(&one_removed());
    let c = change(&p, "node-c03");
    assert_eq!(c.action, Action::Orphaned);
    assert!(!c.destructive);
    assert_eq!(c.rack.as_deref(), Some("rack-c"));
    assert_eq!(c.reasons, vec![Reason::Removed]);
    assert!(c.fingerprint.is_empty());
    // Orphans are left alone: no task at all.
    assert!(p.tasks.is_empty(), "{:#?}", p.tasks);
    assert!(!p.has_changes());
    let s = p.summary();
    assert_eq!((s.orphaned, s.destroy, s.unchanged), (1, 0, 8));
    let text = human(&p);
    assert!(text.contains("--destroy-removed"), "{text}");
    assert!(text.contains(", 1 orphaned."), "{text}");
    snapshot_outputs("e-removed-orphaned", &p);
}

#[test]
fn removed_node_is_destroyed_with_destroy_removed() {
    let p = plan::plan(
        demo(),
        &one_removed(),
        &Options {
            destroy_removed: true,
            ..options()
        },
    );
    assert!(p.destroy_removed);
    let c = change(&p, "node-c03");
    assert_eq!(c.action, Action::Destroy);
    assert!(c.destructive);
    assert_eq!(c.reasons, vec![Reason::Removed]);
    assert_eq!(nodes_with_tasks(&p), BTreeSet::from(["node-c03"]));
    assert_eq!(kinds(&p, Some("node-c03")), [TaskKind::DestroyNode]);
    assert_dependency_order(&p);
    let s = p.summary();
    assert_eq!((s.orphaned, s.destroy, s.unchanged), (0, 1, 8));
    let text = human(&p);
    assert!(text.contains("- node-c03 will be destroyed"), "{text}");
    assert!(
        text.contains("Warning: 1 node(s) will be rebuilt or destroyed"),
        "{text}"
    );
    snapshot_outputs("e-removed-destroyed", &p);
}

#[test]
fn an_orphan_only_plan_does_not_announce_actions() {
    let p = plan_demo(&one_removed());
    assert!(!p.has_changes());
    let text = human(&p);
    assert!(
        !text.contains("will perform the following actions"),
        "{text}"
    );
}

#[test]
fn an_orphan_outside_the_target_is_not_a_change() {
    let p = plan::plan(
        demo(),
        &one_removed(),
        &Options {
            target: Some(from_targets(&["rack:rack-c".to_string()], SetOp::Union).unwrap()),
            ..options()
        },
    );
    assert_eq!(p.untargeted, 0, "{}", human(&p));
}

#[test]
fn a_machine_drydock_has_no_record_of_is_not_orphaned() {
    // The provisioner knows a machine the design lacks, but drydock never deployed it.
    let mut observed = all_deployed(demo());
    observed.nodes.insert(
        "stranger".into(),
        ObservedNode {
            status: Status::Deployed,
            deployed_fingerprint: Some("ffff".into()),
            ..ObservedNode::default()
        },
    );
    for destroy_removed in [false, true] {
        let p = plan::plan(
            demo(),
            &observed,
            &Options {
                destroy_removed,
                ..options()
            },
        );
        assert!(p.nodes.iter().all(|n| n.node != "stranger"));
        assert!(p.tasks.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// (f) A node failed in an earlier apply.

fn one_failed() -> Observed {
    let mut observed = all_deployed(demo());
    observed.nodes.insert(
        "node-b02".into(),
        ObservedNode {
            power: Power::On,
            status: Status::FailedDeployment,
            deployed_fingerprint: None,
            recorded_fingerprint: None,
            deployed: None,
            generation: 0,
            last_failure: Some(Failure {
                at: "DeployNode/deploy".into(),
                error: "timed out after 45 minutes waiting for the node to report deployed".into(),
            }),
            unfinished: None,
        },
    );
    observed
}

#[test]
fn failed_node_is_deployed_again_with_the_failure_as_reason() {
    let p = plan_demo(&one_failed());
    let c = change(&p, "node-b02");
    assert_eq!(c.action, Action::Deploy);
    assert!(!c.destructive);
    assert_eq!(
        c.reasons,
        vec![
            Reason::Status {
                status: Status::FailedDeployment
            },
            Reason::PreviousFailure {
                at: "DeployNode/deploy".into(),
                error: "timed out after 45 minutes waiting for the node to report deployed".into(),
            }
        ]
    );
    assert_eq!(nodes_with_tasks(&p), BTreeSet::from(["node-b02"]));
    assert_eq!(
        kinds(&p, Some("node-b02")),
        [
            TaskKind::VerifyNode,
            TaskKind::PrepareNode,
            TaskKind::DeployNode
        ]
    );
    assert_dependency_order(&p);
    let text = human(&p);
    assert!(
        text.contains("failed in an earlier apply at DeployNode/deploy: timed out"),
        "{text}"
    );
    snapshot_outputs("f-failed", &p);
}

// ---------------------------------------------------------------------------------------------
// (g) A literal credential changed.

const OLD_SECRET: &str = "0ld-Hunter2-literal";
const NEW_SECRET: &str = "n3w-Hunter3-literal";

#[test]
fn a_changed_literal_credential_is_redacted_everywhere() {
    let rack_c = "nodes/rack-c.yaml";
    let env = "credential: 'env:BMC_PASSWORD_C01'";
    let (_old_dir, old) = demo_with(&[(rack_c, env, &format!("credential: '{OLD_SECRET}'"))]);
    let (_new_dir, new) = demo_with(&[(rack_c, env, &format!("credential: '{NEW_SECRET}'"))]);
    let p = plan::plan(&new, &all_deployed(&old), &options());
    let c = change(&p, "node-c01");
    assert_eq!(
        c.action,
        Action::Update,
        "a BMC credential is changed in place"
    );
    assert_eq!(
        c.reasons,
        vec![Reason::Changed {
            field: "oob.credential".into(),
            before: Some("(sensitive)".into()),
            after: Some("(sensitive)".into()),
            rebuild: false,
        }]
    );
    for (name, out) in [("human", human(&p)), ("json", json(&p)), ("dot", dot(&p))] {
        for secret in [OLD_SECRET, NEW_SECRET] {
            assert!(
                !out.contains(secret),
                "{name} output shows the secret:\n{out}"
            );
        }
    }
    let text = human(&p);
    assert!(
        text.contains("oob.credential: (sensitive) -> (sensitive)"),
        "{text}"
    );
    // Nor does the snapshot drydock would record of the node.
    let recorded = snapshot::node(&new, node(&new, "node-c01"));
    assert!(recorded.values().all(|v| !v.contains(NEW_SECRET)));
    insta::assert_snapshot!("g-credential-changed-human", text);
    // A saved plan withholds the literal; applying it puts the design's back for the driver.
    let mut saved: Plan = serde_json::from_str(&json(&p)).unwrap();
    let withheld = |p: &Plan| {
        change(p, "node-c01")
            .desired
            .as_ref()
            .and_then(|d| d.oob.credential.clone())
            .unwrap()
    };
    assert!(withheld(&saved).is_withheld());
    plan::desired::restore_secrets(&mut saved, &new);
    assert_eq!(withheld(&saved).expose(), Some(NEW_SECRET));
}

// ---------------------------------------------------------------------------------------------
// Determinism and stable ids.

const STATUSES: [Status; 10] = [
    Status::Unknown,
    Status::New,
    Status::Commissioning,
    Status::FailedCommissioning,
    Status::Ready,
    Status::Deploying,
    Status::Deployed,
    Status::FailedDeployment,
    Status::Releasing,
    Status::Broken,
];

/// A random observed state of one demo node, as choices applied by [`observed_node`].
#[derive(Clone, Debug)]
struct NodeChoice {
    status: usize,
    /// 0: no fingerprint, 1: the design's, 2: the record's, 3: one nobody knows.
    fingerprint: u8,
    /// 0: no record, 1: the design's snapshot, 2: storage changed, 3: tags changed.
    record: u8,
    generation: u64,
    failure: Option<u8>,
    power: u8,
}

fn node_choice() -> impl Strategy<Value = NodeChoice> {
    (
        0..STATUSES.len(),
        0u8..4,
        0u8..4,
        0u64..3,
        proptest::option::of(0u8..3),
        0u8..3,
    )
        .prop_map(
            |(status, fingerprint, record, generation, failure, power)| NodeChoice {
                status,
                fingerprint,
                record,
                generation,
                failure,
                power,
            },
        )
}

fn observed_node(site: &Site, n: &BaremetalNode, c: &NodeChoice) -> ObservedNode {
    let design = snapshot::node(site, n);
    let mut record = design.clone();
    match c.record {
        2 => {
            record.insert("storage.bootdisk.partitions.root.size".into(), "25g".into());
        }
        3 => {
            record.insert("metadata.tags".into(), "retired".into());
        }
        _ => {}
    }
    ObservedNode {
        power: [Power::On, Power::Off, Power::Unknown][c.power as usize],
        status: STATUSES[c.status],
        deployed_fingerprint: match c.fingerprint {
            0 => None,
            1 => Some(snapshot::fingerprint(&design)),
            2 => Some(snapshot::fingerprint(&record)),
            _ => Some("0123456789abcdef0123456789abcdef".into()),
        },
        recorded_fingerprint: (c.record > 0).then(|| snapshot::fingerprint(&record)),
        deployed: (c.record > 0).then_some(record),
        generation: c.generation,
        last_failure: c.failure.map(|i| Failure {
            at: [
                "VerifyNode/verify_oob",
                "PrepareNode/identify",
                "DeployNode/deploy",
            ][i as usize]
                .into(),
            error: format!("failure {i}"),
        }),
        unfinished: None,
    }
}

/// A random observed state of the demo site: one choice per node (in `NODES` order), the
/// site's record, and maybe a removed node.
#[derive(Clone, Debug)]
struct World {
    nodes: Vec<NodeChoice>,
    site_recorded: bool,
    site_generation: u64,
    removed: bool,
}

fn world() -> impl Strategy<Value = World> {
    (
        proptest::collection::vec(node_choice(), NODES.len()),
        any::<bool>(),
        0u64..3,
        any::<bool>(),
    )
        .prop_map(|(nodes, site_recorded, site_generation, removed)| World {
            nodes,
            site_recorded,
            site_generation,
            removed,
        })
}

fn observed(site: &Site, w: &World) -> Observed {
    let mut o = Observed {
        source: "test".into(),
        site: w.site_recorded.then(|| snapshot::site(site)),
        site_generation: w.site_generation,
        ..Observed::default()
    };
    for (name, c) in NODES.iter().zip(&w.nodes) {
        o.nodes
            .insert(name.to_string(), observed_node(site, node(site, name), c));
    }
    if w.removed {
        let gone = snapshot::node(site, node(site, "node-c02"));
        o.nodes.insert("node-c03".into(), deployed_with(gone));
    }
    o
}

/// The tasks of one node, in order.
fn tasks_of<'a>(p: &'a Plan, name: &str) -> Vec<&'a plan::Task> {
    p.tasks
        .iter()
        .filter(|t| t.node.as_deref() == Some(name))
        .collect()
}

proptest! {
    #[test]
    fn planning_twice_gives_identical_plans(w in world(), destroy_removed in any::<bool>()) {
        let site = demo();
        let opts = Options { destroy_removed, ..options() };
        let o = observed(site, &w);
        let first = plan::plan(site, &o, &opts);
        let second = plan::plan(site, &o.clone(), &opts);
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(json(&first), json(&second));
        prop_assert_eq!(dot(&first), dot(&second));
        prop_assert_eq!(human(&first), human(&second));
    }

    #[test]
    fn every_plan_is_in_dependency_order_with_default_timeouts(
        w in world(),
        destroy_removed in any::<bool>(),
    ) {
        let opts = Options { destroy_removed, ..options() };
        let p = plan::plan(demo(), &observed(demo(), &w), &opts);
        assert_dependency_order(&p);
        assert_default_timeouts(&p);
        // Tasks exactly when there is work: changed nodes or site objects.
        let work = p.nodes.iter().any(|n| !matches!(n.action, Action::NoOp | Action::Orphaned))
            || !p.site_changes.is_empty();
        prop_assert_eq!(p.has_changes(), work);
        // Only changed nodes have tasks, and every changed node has some.
        for n in &p.nodes {
            let has = !tasks_of(&p, &n.node).is_empty();
            let wants = !matches!(n.action, Action::NoOp | Action::Orphaned);
            prop_assert_eq!(has, wants, "{} {:?}", &n.node, n.action);
            prop_assert_eq!(n.destructive, matches!(n.action, Action::Redeploy | Action::Destroy));
        }
    }

    #[test]
    fn a_nodes_task_ids_do_not_depend_on_other_nodes(
        w in world(),
        other in node_choice(),
        a in 0..NODES.len(),
        b in 0..NODES.len(),
    ) {
        prop_assume!(a != b);
        let site = demo();
        let before = plan::plan(site, &observed(site, &w), &options());
        let mut w2 = w.clone();
        w2.nodes[b] = other;
        let after = plan::plan(site, &observed(site, &w2), &options());
        prop_assert_eq!(tasks_of(&before, NODES[a]), tasks_of(&after, NODES[a]));
        prop_assert_eq!(change(&before, NODES[a]), change(&after, NODES[a]));
        // The site's tasks, when both plans have them, are the same too.
        for kind in [TaskKind::VerifySite, TaskKind::PrepareSite] {
            let id = |p: &Plan| p.tasks.iter().find(|t| t.kind == kind).map(|t| t.id.clone());
            if let (Some(x), Some(y)) = (id(&before), id(&after)) {
                prop_assert_eq!(x, y);
            }
        }
    }
}

#[test]
fn task_ids_change_when_a_nodes_configuration_changes() {
    let before = plan_demo(&nothing());
    let (_dir, moved) = demo_with(&[(
        "nodes/rack-a.yaml",
        "address: 10.22.102.11\n",
        "address: 10.22.102.111\n",
    )]);
    let after = plan::plan(&moved, &nothing(), &options());
    let ids = |p: &Plan, name: &str| -> Vec<String> {
        tasks_of(p, name).iter().map(|t| t.id.0.clone()).collect()
    };
    let changed = ids(&before, "node-a01");
    let now = ids(&after, "node-a01");
    assert_eq!(changed.len(), now.len());
    for (x, y) in changed.iter().zip(&now) {
        assert_ne!(x, y, "node-a01's task ids follow its configuration");
    }
    for name in NODES.iter().filter(|n| **n != "node-a01") {
        assert_eq!(ids(&before, name), ids(&after, name), "{name}");
    }
    // Where the design is makes no difference: a copy plans the same ids.
    let (_dir, copy) = demo_with(&[]);
    assert_eq!(plan::plan(&copy, &nothing(), &options()), before);
}

#[test]
fn task_ids_change_with_the_deploy_generation_and_the_site_epoch() {
    let base = plan_demo(&storage_changed());
    let mut later = storage_changed();
    later.nodes.get_mut("node-a02").unwrap().generation += 1;
    let p = plan_demo(&later);
    for (x, y) in tasks_of(&base, "node-a02")
        .iter()
        .zip(tasks_of(&p, "node-a02"))
    {
        assert_ne!(x.id, y.id, "{}", x.label());
    }
    let mut epoch = storage_changed();
    epoch.site_generation += 1;
    let p = plan_demo(&epoch);
    for (x, y) in base.tasks.iter().zip(&p.tasks) {
        assert_ne!(x.id, y.id, "{}", x.label());
    }
}

// ---------------------------------------------------------------------------------------------
// Steps and timeouts.

#[test]
fn every_task_kind_has_drydocks_steps_and_default_timeouts() {
    // One plan with every kind of task: deploy, redeploy, update and destroy.
    let mut observed = one_removed();
    observed.nodes.remove("node-a01");
    observed.nodes.insert(
        "node-a02".into(),
        deployed_with(recorded_a02(&[("platform.kernel", Some("hwe-20.04"))])),
    );
    let mut tags = snapshot::node(demo(), node(demo(), "node-b01"));
    tags.insert("metadata.tags".into(), "compute".into());
    observed
        .nodes
        .insert("node-b01".into(), deployed_with(tags));
    let p = plan::plan(
        demo(),
        &observed,
        &Options {
            destroy_removed: true,
            ..options()
        },
    );
    assert_eq!(
        actions(&p)
            .into_iter()
            .filter(|(_, a)| *a != Action::NoOp)
            .collect::<Vec<_>>(),
        [
            ("node-a01", Action::Deploy),
            ("node-a02", Action::Redeploy),
            ("node-b01", Action::Update),
            ("node-c03", Action::Destroy),
        ]
    );
    let seen: BTreeSet<TaskKind> = p.tasks.iter().map(|t| t.kind).collect();
    assert_eq!(seen.len(), 7, "every task kind: {seen:?}");
    use StepKind::*;
    for t in &p.tasks {
        let steps: Vec<StepKind> = t.steps.iter().map(|s| s.kind).collect();
        let want: &[StepKind] = match t.kind {
            TaskKind::VerifySite => &[VerifyServices],
            TaskKind::PrepareSite => &[PrepareNetworks, PrepareCredentials, PrepareImages],
            TaskKind::VerifyNode => &[VerifyOob],
            TaskKind::PrepareNode => &[Identify, SetPxeBoot, PowerCycle, ConfigureHardware],
            TaskKind::DeployNode => &[
                ApplyNetworking,
                ApplyStorage,
                ApplyPlatform,
                Deploy,
                BootActionReport,
            ],
            TaskKind::UpdateNode => &[UpdateMetadata],
            TaskKind::DestroyNode => &[Destroy],
        };
        assert_eq!(steps, want, "{}", t.label());
    }
    assert_default_timeouts(&p);
    assert_dependency_order(&p);
    // Spot checks in seconds, as the plan file carries them.
    let step = |kind: StepKind| {
        p.tasks
            .iter()
            .flat_map(|t| &t.steps)
            .find(|s| s.kind == kind)
            .unwrap()
            .timeout_secs
    };
    assert_eq!(step(Identify), 600);
    assert_eq!(step(ConfigureHardware), 1800);
    assert_eq!(step(Deploy), 2700);
    assert_eq!(step(BootActionReport), 900);
    assert_eq!(step(Destroy), 1800);
    assert_eq!(step(SetPxeBoot), 300);
}

// ---------------------------------------------------------------------------------------------
// Targeting.

/// The nodes a plan against nothing deployed covers with these targets, and how many it left
/// out.
fn targeted(targets: &[&str], op: SetOp) -> (Vec<String>, usize) {
    let exprs: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
    let filter = from_targets(&exprs, op).expect("targets parse");
    let p = plan::plan(
        demo(),
        &nothing(),
        &Options {
            target: Some(filter),
            target_args: exprs.clone(),
            ..options()
        },
    );
    assert_eq!(p.targets, exprs);
    for t in &p.tasks {
        if let Some(n) = &t.node {
            assert!(
                p.nodes.iter().any(|c| &c.node == n),
                "task for untargeted {n}"
            );
        }
    }
    let names: Vec<String> = p.nodes.iter().map(|n| n.node.clone()).collect();
    (names, p.untargeted)
}

fn check_target(targets: &[&str], op: SetOp, want: &[&str]) {
    let (names, untargeted) = targeted(targets, op);
    assert_eq!(names, want, "{targets:?} ({op:?})");
    assert_eq!(untargeted, NODES.len() - want.len(), "{targets:?} ({op:?})");
}

#[test]
fn targets_select_by_name_tag_rack_and_label() {
    use SetOp::*;
    check_target(&["node-a01"], Union, &["node-a01"]);
    check_target(&["node:node-b02"], Union, &["node-b02"]);
    check_target(&["node-a01", "node-c02"], Union, &["node-a01", "node-c02"]);
    check_target(&["tag:high_memory"], Union, &["node-a02"]);
    check_target(&["tag:gateway"], Union, &["node-a01", "node-b01"]);
    check_target(
        &["tag:ceph-osd"],
        Union,
        &["node-a03", "node-b03", "node-c02"],
    );
    check_target(
        &["rack:rack-b"],
        Union,
        &["node-b01", "node-b02", "node-b03"],
    );
    check_target(
        &["label:role=storage"],
        Union,
        &["node-a03", "node-b03", "node-c02"],
    );
    check_target(&["label:service_tag=7HMR8P2"], Union, &["node-b02"]);
    check_target(
        &["rack-label:power_domain=pdu-b"],
        Union,
        &["node-b01", "node-b02", "node-b03", "node-c01", "node-c02"],
    );
    check_target(&["bogus-node"], Union, &[]);
    check_target(&["tag:no-such-tag"], Union, &[]);
}

#[test]
fn several_targets_combine_by_union_or_intersection() {
    use SetOp::*;
    let t = ["rack:rack-a", "tag:ceph-osd"];
    check_target(
        &t,
        Union,
        &["node-a01", "node-a02", "node-a03", "node-b03", "node-c02"],
    );
    check_target(&t, Intersection, &["node-a03"]);
    check_target(
        &["tag:compute", "rack:rack-c"],
        Intersection,
        &["node-c01", "node-c02"],
    );
    check_target(&["node-a01", "rack:rack-b"], Intersection, &[]);
    check_target(
        &["rack-label:power_domain=pdu-b", "label:role=gateway"],
        Intersection,
        &["node-b01"],
    );
}

#[test]
fn bad_targets_are_refused() {
    for bad in ["bogus:x", "label:role", "rack-label:power_domain"] {
        assert!(
            from_targets(&[bad.to_string()], SetOp::Union).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn untargeted_counts_only_nodes_with_changes() {
    let filter = from_targets(&["node-a02".to_string()], SetOp::Union).unwrap();
    let p = plan::plan(
        demo(),
        &storage_changed(),
        &Options {
            target: Some(filter),
            ..options()
        },
    );
    assert_eq!(actions(&p), [("node-a02", Action::Redeploy)]);
    assert_eq!(p.untargeted, 0);
    let filter = from_targets(&["node-a01".to_string()], SetOp::Union).unwrap();
    let p = plan::plan(
        demo(),
        &storage_changed(),
        &Options {
            target: Some(filter),
            ..options()
        },
    );
    assert_eq!(actions(&p), [("node-a01", Action::NoOp)]);
    assert_eq!(p.untargeted, 1);
    assert!(p.tasks.is_empty());
    assert!(human(&p).contains("1 more node(s) have changes outside --target."));
}

#[test]
fn a_removed_node_is_targeted_by_its_name_only() {
    let opts = |t: &str| Options {
        destroy_removed: true,
        target: Some(from_targets(&[t.to_string()], SetOp::Union).unwrap()),
        ..options()
    };
    let p = plan::plan(demo(), &one_removed(), &opts("node-c03"));
    assert_eq!(actions(&p), [("node-c03", Action::Destroy)]);
    assert_eq!(kinds(&p, Some("node-c03")), [TaskKind::DestroyNode]);
    let p = plan::plan(demo(), &one_removed(), &opts("rack:rack-c"));
    assert_eq!(
        actions(&p),
        [("node-c01", Action::NoOp), ("node-c02", Action::NoOp)]
    );
    assert_eq!(p.untargeted, 1);
    assert!(p.tasks.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Saved plans and staleness.

#[test]
fn a_saved_plan_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.plan");
    let mut observed = one_failed();
    observed.nodes.insert(
        "node-a02".into(),
        deployed_with(recorded_a02(&[(
            "storage.bootdisk.partitions.root.size",
            Some("20g"),
        )])),
    );
    let saved = SavedPlan {
        paths: vec!["designs/demo".into()],
        state: dir.path().join("state"),
        plan: plan::plan(
            demo(),
            &observed,
            &Options {
                target: Some(
                    from_targets(&["rack:rack-a".into(), "rack:rack-b".into()], SetOp::Union)
                        .unwrap(),
                ),
                target_args: vec!["rack:rack-a".into(), "rack:rack-b".into()],
                ..options()
            },
        ),
    };
    saved.write(&file).unwrap();
    let back = SavedPlan::read(&file).unwrap();
    assert_eq!(back, saved);
    // Writing it again gives the same bytes.
    let again = dir.path().join("again.plan");
    back.write(&again).unwrap();
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(&again).unwrap()
    );
    // No temporary file is left behind.
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 2);
}

#[test]
fn a_plan_file_of_another_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.plan");
    let saved = SavedPlan {
        paths: vec!["designs/demo".into()],
        state: dir.path().into(),
        plan: plan_demo(&nothing()),
    };
    let mut v = serde_json::to_value(&saved).unwrap();
    v["plan"]["format_version"] = 99.into();
    std::fs::write(&file, serde_json::to_vec(&v).unwrap()).unwrap();
    let e = SavedPlan::read(&file).unwrap_err().to_string();
    assert!(e.contains("format 99"), "{e}");
    std::fs::write(&file, b"{ not json").unwrap();
    assert!(SavedPlan::read(&file).is_err());
}

#[test]
fn check_fresh_refuses_a_stale_plan() {
    let observed = storage_changed();
    let p = plan_demo(&observed);
    assert_eq!(p.check_fresh(DESIGN_HASH, &observed), Ok(()));
    assert_eq!(p.check_fresh(DESIGN_HASH, &observed.clone()), Ok(()));
    // Another design.
    assert!(matches!(
        p.check_fresh("another-design", &observed),
        Err(plan::Stale::Design { .. })
    ));
    // The world changed: a node finished deploying, powered off, or was recorded again.
    let mut moved = observed.clone();
    moved.nodes.get_mut("node-a02").unwrap().status = Status::Deploying;
    assert!(matches!(
        p.check_fresh(DESIGN_HASH, &moved),
        Err(plan::Stale::Observed { .. })
    ));
    let mut off = observed.clone();
    off.nodes.get_mut("node-b01").unwrap().power = Power::Off;
    assert!(matches!(
        p.check_fresh(DESIGN_HASH, &off),
        Err(plan::Stale::Observed { .. })
    ));
    let mut prepared = observed.clone();
    prepared.site_generation += 1;
    assert!(matches!(
        p.check_fresh(DESIGN_HASH, &prepared),
        Err(plan::Stale::Observed { .. })
    ));
    let e = p
        .check_fresh("another-design", &observed)
        .unwrap_err()
        .to_string();
    assert!(e.contains("design changed"), "{e}");
}

#[test]
fn check_fresh_survives_a_save_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.plan");
    let observed = one_failed();
    SavedPlan {
        paths: vec![],
        state: dir.path().into(),
        plan: plan_demo(&observed),
    }
    .write(&file)
    .unwrap();
    let back = SavedPlan::read(&file).unwrap();
    assert_eq!(back.plan.check_fresh(DESIGN_HASH, &observed), Ok(()));
}

// ---------------------------------------------------------------------------------------------
// The desired state drivers receive, typed and resolved, computed by the plan.

#[test]
fn the_plan_carries_each_nodes_typed_desired_state() {
    use drydock::spec::{AddressMethod, SizeAmount};
    let p = plan_demo(&nothing());
    let spec = change(&p, "node-a01")
        .desired
        .as_ref()
        .expect("a node to deploy has its desired state");
    assert_eq!(spec.fqdn, "node-a01.demo.example.net");
    assert_eq!(spec.fingerprint, change(&p, "node-a01").fingerprint);
    // Interfaces: slaves resolved through the hardware profile's aliases, the boot MAC on the
    // PXE interface, the link's bond, MTU and the networks' VLAN tags.
    let pxe = spec.interfaces.iter().find(|i| i.name == "pxe").unwrap();
    assert_eq!(pxe.slaves[0].name, "eno1");
    assert_eq!(pxe.slaves[0].address, None);
    assert_eq!(pxe.slaves[0].mac.as_deref(), Some("b0:26:28:4e:1a:10"));
    assert_eq!(spec.pxe_network.as_deref(), Some("pxe"));
    let bond = spec.interfaces.iter().find(|i| i.name == "bond0").unwrap();
    let addrs: Vec<_> = bond.slaves.iter().map(|s| s.address.as_deref()).collect();
    assert_eq!(addrs, [Some("0000:3b:00.0"), Some("0000:3b:00.1")]);
    assert_eq!(bond.mtu, 9000);
    assert_eq!(bond.bond.as_ref().unwrap().mode, "802.3ad");
    let vlans: Vec<_> = bond
        .networks
        .iter()
        .map(|n| (n.network.as_str(), n.vlan))
        .collect();
    assert!(vlans.contains(&("mgmt", Some(102))), "{vlans:?}");
    // Addresses with the network's CIDR, default route and DNS.
    let mgmt = spec.addresses.iter().find(|a| a.network == "mgmt").unwrap();
    assert_eq!(
        mgmt.method,
        AddressMethod::Static("10.22.102.11".parse().unwrap())
    );
    assert_eq!(mgmt.cidr.as_deref(), Some("10.22.102.0/24"));
    assert_eq!(mgmt.gateway, Some("10.22.102.1".parse().unwrap()));
    assert!(mgmt.default_route);
    assert_eq!(mgmt.interface.as_deref(), Some("bond0"));
    assert!(!mgmt.dns_servers.is_empty());
    let pxe_addr = spec.addresses.iter().find(|a| a.network == "pxe").unwrap();
    assert_eq!(pxe_addr.method, AddressMethod::Dhcp);
    // Storage: the device alias's address, sizes parsed.
    let disk = spec
        .storage
        .devices
        .iter()
        .find(|d| d.name == "bootdisk")
        .unwrap();
    assert_eq!(disk.address.as_deref(), Some("0:2.0.0"));
    let root = disk.partitions.iter().find(|p| p.name == "root").unwrap();
    assert_eq!(
        root.size.as_ref().unwrap().amount,
        Some(SizeAmount::Bytes(30_000_000_000))
    );
    assert_eq!(root.filesystem.as_ref().unwrap().fstype, "ext4");
    // Platform: hardware-profile references resolved into the kernel command line.
    assert_eq!(spec.platform.image.as_deref(), Some("focal"));
    assert!(
        spec.platform
            .cmdline()
            .contains("isolcpus=4-23,28-47,52-71,76-95"),
        "{}",
        spec.platform.cmdline()
    );
    // Boot actions with their assets; the region's keys and repositories.
    let baseline = spec
        .boot_actions
        .iter()
        .find(|b| b.name == "site-baseline")
        .unwrap();
    assert!(baseline.signaling);
    assert!(
        baseline
            .assets
            .iter()
            .any(|a| a.kind == "pkg_list" && a.packages.iter().any(|(p, _)| p == "chrony"))
    );
    assert!(
        baseline
            .assets
            .iter()
            .any(|a| a.path.as_deref() == Some("/etc/motd") && a.data.is_some())
    );
    assert!(!spec.ssh_keys.is_empty());
    assert_eq!(spec.repositories[0].arches, ["amd64"]);
    // The BMC, with its credential as a reference.
    assert!(
        spec.oob
            .credential
            .as_ref()
            .and_then(|c| c.reference())
            .is_some_and(|r| r.starts_with("env:")),
        "{:?}",
        spec.oob.credential
    );
    assert!(spec.oob.address.is_some());
    // The site: networks with ranges and routes, links, the images used.
    assert!(p.desired_site.images.contains(&"focal".to_string()));
    let gp = p
        .desired_site
        .links
        .iter()
        .find(|l| l.name == "gp")
        .unwrap();
    assert!(gp.trunked && gp.bond.is_some());
}

#[test]
fn nodes_with_nothing_to_do_carry_no_desired_state() {
    let p = plan_demo(&all_deployed(demo()));
    assert!(
        p.nodes.iter().all(|n| n.desired.is_none()),
        "NoOp nodes stay small"
    );
}

#[test]
fn foreign_site_objects_are_listed_and_change_nothing() {
    let mut observed = all_deployed(demo());
    let before = plan_demo(&observed);
    observed.foreign = vec![
        "MAAS fabric lab-7".into(),
        "MAAS subnet 192.168.77.0/24".into(),
    ];
    let p = plan_demo(&observed);
    assert!(!p.has_changes(), "{}", human(&p));
    assert_eq!(p.tasks, before.tasks);
    assert_eq!(p.foreign, observed.foreign);
    let text = human(&p);
    assert!(
        text.contains(
            "Not in the design, left alone: MAAS fabric lab-7, MAAS subnet 192.168.77.0/24."
        ),
        "{text}"
    );
    // Without foreign objects the plan's JSON has no `foreign` key (old saved plans still read).
    let json = serde_json::to_value(&before).unwrap();
    assert!(json.get("foreign").is_none());
    let back: Plan = serde_json::from_value(json).unwrap();
    assert!(back.foreign.is_empty());
    assert!(serde_json::to_value(&p).unwrap()["foreign"].is_array());
}

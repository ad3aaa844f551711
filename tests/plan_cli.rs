//! `drydock plan` on the command line: the Terraform-style output and its summary line, JSON,
//! DOT, exit codes, saved plans, targets, and refusing an invalid design. Each test has its
//! own `--state` directory, and runs from the repository root with the relative path
//! `designs/demo`.

use std::path::Path;

use assert_cmd::Command;
use drydock::cli::planfile::SavedPlan;
use drydock::driver::sim::World;
use drydock::driver::sim::world::Machine;
use drydock::model::observed::{Power, Status};
use drydock::plan::snapshot;
use drydock::validate::{self, Catalog};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `drydock plan designs/demo --state STATE <args>`, from the repository root, without colour.
fn plan(state: &Path, args: &[&str]) -> Command {
    let mut c = Command::cargo_bin("drydock").unwrap();
    c.current_dir(root())
        .env_remove("DRYDOCK_STATE")
        .env("NO_COLOR", "1")
        .args(["plan", "designs/demo", "--state"])
        .arg(state)
        .args(args);
    c
}

/// Exit code, standard output and standard error.
fn run(mut c: Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("UTF-8 output"),
        String::from_utf8(out.stderr).expect("UTF-8 errors"),
    )
}

/// Write the simulator's world with every demo node deployed as designed.
fn deploy_everything(state: &Path) {
    let design = drydock::design::load(&[root().join("designs/demo")]).unwrap();
    let site = validate::validate(
        &design,
        &validate::Options {
            catalog: Some(Catalog::simulator()),
            ..Default::default()
        },
    )
    .into_valid()
    .ok()
    .expect("the demo design is valid");
    let mut world = World::default();
    for n in &site.nodes {
        world.machines.insert(
            n.name.v.clone(),
            Machine {
                status: Status::Deployed,
                power: Power::On,
                deployed_fingerprint: Some(snapshot::fingerprint(&snapshot::node(&site, n))),
                ..Machine::default()
            },
        );
    }
    world.save(state).unwrap();
    assert_eq!(World::load(state).unwrap().machines.len(), 8);
}

#[test]
fn plan_prints_the_terraform_style_plan() {
    let state = tempfile::tempdir().unwrap();
    let (code, out, err) = run(plan(state.path(), &[]));
    assert_eq!(code, 0, "{err}");
    // Nothing was applied there: said prominently, above the plan (on stderr).
    assert!(
        err.starts_with(&format!("note: no state at {}", state.path().display())),
        "{err}"
    );
    assert!(
        out.starts_with("drydock will perform the following actions on site `demo`:"),
        "{out}"
    );
    for rack in ["rack-a", "rack-b", "rack-c"] {
        assert!(out.contains(&format!("\nRack {rack}:\n")), "{out}");
    }
    assert!(out.contains("  + node-a01 will be deployed"), "{out}");
    assert!(
        out.contains("Plan: 8 to deploy, 0 to update, 0 to redeploy, 0 to destroy, 0 unchanged."),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "no colour: {out:?}");
}

#[test]
fn json_is_versioned_and_has_tasks() {
    let state = tempfile::tempdir().unwrap();
    let (code, out, err) = run(plan(state.path(), &["--json"]));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("the JSON plan parses");
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["site"], "demo");
    let tasks = v["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2 + 3 * 8);
    assert_eq!(tasks[0]["kind"], "verify_site");
    assert!(
        tasks
            .iter()
            .all(|t| t["id"].as_str().is_some_and(|s| !s.is_empty()))
    );
    assert_eq!(v["nodes"].as_array().unwrap().len(), 8);
    assert!(v["design_hash"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        v["observed_fingerprint"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
}

#[test]
fn dot_is_a_graphviz_digraph() {
    let state = tempfile::tempdir().unwrap();
    let (code, out, err) = run(plan(state.path(), &["--dot"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("digraph"), "{out}");
    assert!(out.trim_end().ends_with('}'), "{out}");
    assert!(out.contains("DeployNode node-c02"), "{out}");
    // One edge per dependency: VerifySite has none, every other task one.
    assert_eq!(out.matches(" -> ").count(), 2 + 3 * 8 - 1);
}

#[test]
fn json_and_dot_together_are_refused() {
    let state = tempfile::tempdir().unwrap();
    let (code, _, err) = run(plan(state.path(), &["--json", "--dot"]));
    // An error is 1, never 2 (which --detailed-exitcode means "changes").
    assert_eq!(code, 1, "{err}");
}

#[test]
fn detailed_exitcode_is_2_with_changes() {
    let state = tempfile::tempdir().unwrap();
    let (code, out, _) = run(plan(state.path(), &["--detailed-exitcode"]));
    assert_eq!(code, 2, "{out}");
}

#[test]
fn detailed_exitcode_is_0_when_everything_is_deployed() {
    let state = tempfile::tempdir().unwrap();
    deploy_everything(state.path());
    let (code, out, err) = run(plan(state.path(), &["--detailed-exitcode"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("No changes."), "{out}");
    assert!(out.contains("8 unchanged"), "{out}");
    // Without --detailed-exitcode it is 0 either way, and the JSON has no tasks.
    let (code, out, _) = run(plan(state.path(), &["--json"]));
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tasks"].as_array().unwrap().len(), 0);
}

#[test]
fn one_machine_deployed_with_another_configuration_is_redeployed() {
    let state = tempfile::tempdir().unwrap();
    deploy_everything(state.path());
    let mut world = World::load(state.path()).unwrap();
    world
        .machines
        .get_mut("node-b03")
        .unwrap()
        .deployed_fingerprint = Some("0123456789abcdef0123456789abcdef".into());
    world.save(state.path()).unwrap();
    let (code, out, _) = run(plan(state.path(), &["--detailed-exitcode"]));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("-/+ node-b03 must be redeployed"), "{out}");
    assert!(out.contains("1 to redeploy"), "{out}");
    assert!(out.contains("7 unchanged"), "{out}");
}

#[test]
fn out_saves_a_plan_that_reads_back() {
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("demo.plan");
    let (code, out, err) = run(plan(state.path(), &["--out", file.to_str().unwrap()]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Saved the plan to"), "{out}");
    let saved = SavedPlan::read(&file).expect("the saved plan reads back");
    // Absolute: the plan applies from any directory.
    assert_eq!(
        saved.paths,
        [Path::new(env!("CARGO_MANIFEST_DIR")).join("designs/demo")]
    );
    assert_eq!(saved.state, state.path());
    assert_eq!(saved.plan.format_version, 1);
    assert_eq!(saved.plan.tasks.len(), 2 + 3 * 8);
    // The saved plan is the plan --json prints.
    let (_, json, _) = run(plan(state.path(), &["--json"]));
    let printed: drydock::plan::Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(saved.plan, printed);
}

#[test]
fn out_with_json_saves_and_prints_only_json() {
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("demo.plan");
    let (code, out, _) = run(plan(
        state.path(),
        &["--json", "--out", file.to_str().unwrap()],
    ));
    assert_eq!(code, 0);
    let _: Value = serde_json::from_str(&out).expect("only JSON on stdout");
    assert!(SavedPlan::read(&file).is_ok());
}

#[test]
fn an_invalid_design_is_refused_with_its_diagnostics() {
    let state = tempfile::tempdir().unwrap();
    let mut c = Command::cargo_bin("drydock").unwrap();
    c.current_dir(root())
        .env("NO_COLOR", "1")
        .args(["plan", "designs/invalid/DD2005-duplicate-ips", "--state"])
        .arg(state.path());
    let (code, out, err) = run(c);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty(), "no plan on stdout: {out}");
    assert!(err.contains("DD2005"), "{err}");
    assert!(err.contains("address 172.16.2.11"), "{err}");
    assert!(err.contains("error: the design has 1 error"), "{err}");
}

#[test]
fn target_plans_only_that_node() {
    let state = tempfile::tempdir().unwrap();
    let (code, out, err) = run(plan(state.path(), &["--target", "node-a01"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("node-a01 will be deployed"), "{out}");
    assert!(!out.contains("node-a02"), "{out}");
    assert!(out.contains("Plan: 1 to deploy"), "{out}");
    assert!(
        out.contains("7 more node(s) have changes outside --target"),
        "{out}"
    );
    let (_, json, _) = run(plan(state.path(), &["--target", "node-a01", "--json"]));
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["targets"], serde_json::json!(["node-a01"]));
    assert_eq!(v["untargeted"], 7);
    let nodes: Vec<&str> = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["node"].as_str())
        .collect();
    assert!(!nodes.is_empty());
    assert!(nodes.iter().all(|n| *n == "node-a01"), "{nodes:?}");
}

#[test]
fn targets_combine_by_union_or_intersection() {
    let state = tempfile::tempdir().unwrap();
    let deployed = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let (code, out, err) = run(plan(state.path(), &all));
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["node"].as_str().unwrap().to_string())
            .collect()
    };
    let both = ["--target", "rack:rack-a", "--target", "tag:ceph-osd"];
    assert_eq!(
        deployed(&both),
        ["node-a01", "node-a02", "node-a03", "node-b03", "node-c02"]
    );
    let mut inter = both.to_vec();
    inter.extend(["--target-mode", "intersection"]);
    assert_eq!(deployed(&inter), ["node-a03"]);
}

#[test]
fn a_target_that_selects_nothing_warns() {
    let state = tempfile::tempdir().unwrap();
    let (code, _, err) = run(plan(state.path(), &["--target", "node-zz"]));
    assert_eq!(code, 0);
    assert!(err.contains("selects no node"), "{err}");
}

#[test]
fn an_unknown_target_kind_exits_1() {
    let state = tempfile::tempdir().unwrap();
    let (code, out, err) = run(plan(state.path(), &["--target", "bogus:x"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("unknown target kind `bogus`"), "{err}");
    assert!(err.contains("help:"), "{err}");
}

#[test]
fn a_damaged_world_is_an_error() {
    // Something that is not the simulator's world where it keeps it.
    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("sim.log"), "not a log").unwrap();
    let (code, out, err) = run(plan(state.path(), &[]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("damaged") && err.contains("sim"), "{err}");
    assert!(err.contains("drydock state verify"), "{err}");
}

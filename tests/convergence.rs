//! Convergence regressions through the CLI: after an apply that succeeds, `plan` is empty and
//! a rerun does nothing, whatever kind of change was applied; after an apply that failed or
//! was interrupted after the provisioner's deploy step, the next plan says the deploy is
//! unfinished and the rerun finishes exactly that. The summary's words say what happened.
//! The property test over sequences of changes is `tests/convergence_property.rs`.

mod apply_support;

use std::path::Path;
use std::time::Duration;

use apply_support::*;
use drydock::plan::TaskKind;
use drydock::state::TaskState;

const SCALE: &str = "0.001";

fn demo_copy() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_design(&root().join("designs/demo"), d.path());
    d
}

fn apply_ok(design: &Path, state: &Path, args: &[&str]) -> Run {
    let mut a = vec!["--sim-time-scale", SCALE];
    a.extend_from_slice(args);
    let r = run(apply_design_cmd(design, state, &a));
    assert_eq!(r.code, 0, "{r}");
    r
}

/// The summary table's line for `node`.
fn result_of<'a>(r: &'a Run, node: &str) -> &'a str {
    r.stdout
        .lines()
        .rev()
        .find(|l| l.starts_with(&format!("{node} ")))
        .unwrap_or_else(|| panic!("no summary line for {node}:\n{r}"))
}

/// After an apply: the plan is empty and another apply runs no task.
fn assert_nothing_left(design: &Path, state: &Path) {
    let p = plan_design(design, state, &[]);
    assert_eq!(p.code, 0, "the plan after the apply is empty:\n{p}");
    let again = apply_ok(design, state, &[]);
    assert!(again.stdout.contains("No changes."), "{again}");
    let (rs, _) = replay(state);
    assert_no_rerun_after_success(&rs);
}

#[test]
fn in_place_updates_converge() {
    let design = demo_copy();
    let state = tempfile::tempdir().unwrap();
    let (design, state) = (design.path(), state.path());
    apply_ok(design, state, &[]);
    // A tag on one node, owner data on another.
    edit(
        design,
        "nodes/rack-a.yaml",
        "      - high_memory\n",
        "      - high_memory\n      - gpu\n",
    );
    edit(
        design,
        "nodes/rack-a.yaml",
        "      service_tag: '4QXK2N5'",
        "      service_tag: '4QXK2N5'\n      owner: team-b",
    );
    let p = plan_design(design, state, &[]);
    assert_eq!(p.code, 2, "{p}");
    assert!(p.stdout.contains("2 to update"), "{p}");
    let r = apply_ok(design, state, &[]);
    for n in ["node-a02", "node-a03"] {
        assert!(result_of(&r, n).contains("updated"), "{n}: {r}");
    }
    assert_nothing_left(design, state);
}

#[test]
fn an_unfinished_deploy_is_resumed_not_forgotten() {
    let design = root().join("designs/demo");
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    let r = run(apply_design_cmd(
        &design,
        state,
        &[
            "--sim-time-scale",
            SCALE,
            "--sim-fail",
            "node-b01:boot_action_report",
        ],
    ));
    assert_eq!(r.code, 1, "{r}");
    // The provisioner reports node-b01 Deployed; the journal knows better.
    let st = status(state);
    assert_eq!(status_state(&st["node-b01"]), "Deployed");
    let p = plan_design(&design, state, &[]);
    assert_eq!(p.code, 2, "{p}");
    assert!(
        p.stdout
            .contains("deploy unfinished (step boot_action_report)"),
        "{p}"
    );
    assert!(p.stdout.contains("1 to deploy, 0 to update"), "{p}");
    let (_, before) = replay(state);
    let deploy = before
        .tasks
        .values()
        .find(|t| t.kind == TaskKind::DeployNode && t.node.as_deref() == Some("node-b01"))
        .expect("node-b01's DeployNode")
        .clone();
    assert_eq!(deploy.state, TaskState::Failed);
    // The rerun resumes that DeployNode (the same task) and runs nothing before it.
    let r = apply_ok(&design, state, &[]);
    assert!(result_of(&r, "node-b01").contains("deployed"), "{r}");
    let (_, after) = replay(state);
    let t = &after.tasks[&deploy.id];
    assert_eq!(t.state, TaskState::Succeeded);
    assert_eq!(t.attempts, 2);
    let reran: Vec<_> = after
        .tasks
        .values()
        .filter(|t| t.node.as_deref() == Some("node-b01") && t.attempts > 1)
        .map(|t| t.kind)
        .collect();
    assert_eq!(
        reran,
        vec![TaskKind::DeployNode],
        "only DeployNode runs again"
    );
    assert_nothing_left(&design, state);
}

#[test]
fn a_kill_between_the_deploy_and_the_boot_action_report_is_resumed() {
    let design = root().join("designs/demo");
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    let mut w = Watched::start(
        state,
        &[
            "--sim-time-scale",
            SCALE,
            "--sim-hang",
            "node-c02:boot_action_report",
        ],
    );
    // The hang holds node-c02 after its deploy step finished in the world.
    assert!(
        w.wait_for(Duration::from_secs(60), |l| l
            .ends_with("node-c02: DeployNode/boot_action_report")),
        "node-c02 reached its boot-action report: {:?}",
        w.lines
    );
    w.signal(libc::SIGKILL);
    let _ = w.finish();
    let p = plan_design(&design, state, &[]);
    assert_eq!(p.code, 2, "the killed deploy is not forgotten:\n{p}");
    // The step is the last one the journal made durable (a step's end is synced with the
    // task's next transition), so after a kill it may be the deploy step itself.
    let c02 = p
        .stdout
        .split("+ node-c02 will be deployed")
        .nth(1)
        .unwrap_or_else(|| panic!("node-c02 is deployed again:\n{p}"));
    assert!(
        c02.trim_start().starts_with("deploy unfinished (step "),
        "{p}"
    );
    let r = apply_ok(&design, state, &[]);
    assert!(result_of(&r, "node-c02").contains("deployed"), "{r}");
    assert_converged(state);
    assert_nothing_left(&design, state);
}

#[test]
fn result_words_are_true() {
    let design = demo_copy();
    let state = tempfile::tempdir().unwrap();
    let (design, state) = (design.path(), state.path());
    let first = apply_ok(design, state, &[]);
    for n in DEMO_NODES {
        assert!(result_of(&first, n).contains("deployed"), "{n}: {first}");
    }
    // Remove node-c02 and change a tag of node-a02.
    let rack_c = std::fs::read_to_string(design.join("nodes/rack-c.yaml")).unwrap();
    let kept: Vec<&str> = rack_c
        .split("\n---\n")
        .filter(|d| !d.contains("name: node-c02"))
        .collect();
    std::fs::write(design.join("nodes/rack-c.yaml"), kept.join("\n---\n")).unwrap();
    edit(
        design,
        "nodes/rack-a.yaml",
        "      - high_memory\n",
        "      - high_memory\n      - gpu\n",
    );
    let r = apply_ok(design, state, &["--destroy-removed"]);
    assert!(result_of(&r, "node-c02").contains("destroyed"), "{r}");
    assert!(result_of(&r, "node-a02").contains("updated"), "{r}");
    assert_nothing_left(design, state);
}

#[test]
fn a_cancelled_apply_says_which_nodes_were_left_mid_way() {
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    let mut w = Watched::start(
        state,
        &[
            "--sim-time-scale",
            SCALE,
            "--sim-hang",
            "node-a01:deploy",
            "--rack-concurrency",
            "1",
        ],
    );
    assert!(
        w.wait_for(Duration::from_secs(60), |l| l
            .ends_with("node-a01: DeployNode/deploy")),
        "{:?}",
        w.lines
    );
    w.signal(libc::SIGINT);
    let (status, out, lines) = w.finish();
    assert_eq!(status.code(), Some(130), "{out}\n{lines:?}");
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with("node-a01 "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("unfinished") && line.contains("DeployNode/deploy"),
        "{line}"
    );
    assert!(out.contains("Apply cancelled"), "{out}");
    let r = apply_ok(&root().join("designs/demo"), state, &[]);
    assert!(result_of(&r, "node-a01").contains("deployed"), "{r}");
    assert_converged(state);
}

#[test]
fn simulator_flags_that_name_nothing_are_errors() {
    let state = tempfile::tempdir().unwrap();
    for (flag, value, says) in [
        ("--sim-fail", "node-zz", "no node `node-zz`"),
        ("--sim-hang", "node-a01:bogus_step", "no step `bogus_step`"),
    ] {
        let r = run(apply_cmd(state.path(), &[flag, value]));
        assert_eq!(r.code, 1, "{r}");
        assert!(r.stderr.contains(says), "{r}");
        // The message lists what exists, and nothing was applied.
        assert!(
            r.stderr.contains("node-a01") || r.stderr.contains("boot_action_report"),
            "{r}"
        );
        assert!(!r.stdout.contains("Apply complete"), "{r}");
    }
}

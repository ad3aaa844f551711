//! Fault injection end to end through the CLI (issue 4): the simulator's transient errors are
//! retried until the site converges; a permanently failing node yields partial success with
//! its reason in the summary and in `drydock status`, and a rerun without the fault finishes
//! it; `--max-failures` stops starting nodes; a hung step fails its node at the step timeout.
//!
//! Backoff and timeouts are tested with paused time in the executor's unit tests; here they
//! run in real time, kept short by a settings file and `--timeout`.

mod apply_support;

use std::path::Path;
use std::time::{Duration, Instant};

use apply_support::*;
use drydock::plan::{StepKind, TaskKind};
use drydock::state::Event;

/// Fast simulated latencies: a clean demo apply takes a quarter of a second.
const SCALE: &str = "0.001";

/// Steps that never answer "in progress": more than one call means a retry.
const SHORT_STEPS: [&str; 10] = [
    "verify_services",
    "prepare_networks",
    "prepare_credentials",
    "prepare_images",
    "verify_oob",
    "identify",
    "set_pxe_boot",
    "power_cycle",
    "apply_networking",
    "boot_action_report",
];

/// The summary table's line for `node`.
fn summary_line<'a>(r: &'a Run, node: &str) -> &'a str {
    r.stdout
        .lines()
        .find(|l| l.starts_with(node) && !l.contains(" will be "))
        .unwrap_or_else(|| panic!("no summary line for {node}:\n{r}"))
}

fn assert_deployed_in_summary(r: &Run, except: &[&str]) {
    for node in DEMO_NODES.iter().filter(|n| !except.contains(n)) {
        let l = summary_line(r, node);
        assert!(l.contains("deployed"), "{node} deployed: {l}\n{r}");
    }
}

/// A 20% transient error rate with this seed converges, and retries show in `drydock tasks`.
fn converges_under_transient_errors(seed: &str) {
    let d = tempfile::tempdir().unwrap();
    let state = d.path();
    // Retry sooner than the default 1 s backoff base, so the test takes a second or two.
    let settings = state.join("settings.yaml");
    std::fs::write(&settings, "backoff_base_ms: 10\nbackoff_cap_ms: 100\n").unwrap();
    let r = apply(
        state,
        &[
            "--sim-time-scale",
            SCALE,
            "--sim-transient-rate",
            "0.2",
            "--sim-seed",
            seed,
            "--retries",
            "12",
            "--config",
            settings.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "seed {seed}: {r}");
    assert!(
        r.stdout.contains("Apply complete: 8/8 nodes"),
        "seed {seed}: {r}"
    );
    assert_deployed_in_summary(&r, &[]);
    let retry_lines = r
        .stderr
        .lines()
        .filter(|l| l.contains(": retry ") && l.contains("simulated transient error"))
        .count();
    assert!(retry_lines > 0, "seed {seed}: retries are reported: {r}");
    // Each retry is reported once on stderr: one progress line per (node, step, attempt), and
    // no log line repeating it.
    let mut seen = std::collections::HashSet::new();
    for l in r.stderr.lines().filter(|l| l.contains(": retry ")) {
        let key = l.split_once("] ").map_or(l, |(_, rest)| rest);
        let key = key.split(" after: ").next().unwrap_or(key).to_string();
        assert!(
            seen.insert(key.clone()),
            "seed {seed}: `{key}` reported twice: {r}"
        );
    }
    assert!(
        !r.stderr.contains("transient error, retrying"),
        "seed {seed}: the log repeats the retries: {r}"
    );
    assert_converged(state);

    // `drydock tasks ID` shows the retries as more than one call of a step that never
    // answers "in progress".
    let (rs, j) = replay(state);
    assert!(
        !rs.iter()
            .any(|r| matches!(r.event, Event::TaskFailed { .. })),
        "seed {seed}: no task failed"
    );
    let mut retried_calls = 0;
    for t in j.tasks.values() {
        let v = task_view(state, &t.id);
        assert_eq!(v.state, "Succeeded");
        assert_eq!(
            v.attempts, 1,
            "a task is started once in a run without a crash"
        );
        retried_calls += v
            .steps
            .iter()
            .filter(|(step, _)| SHORT_STEPS.contains(&step.as_str()))
            .map(|(_, calls)| calls - 1)
            .sum::<u32>();
    }
    assert!(
        retried_calls > 0,
        "seed {seed}: some short step was called more than once"
    );
}

#[test]
fn transient_errors_at_20_percent_converge_seed_1() {
    converges_under_transient_errors("1");
}

#[test]
fn transient_errors_at_20_percent_converge_seed_7() {
    converges_under_transient_errors("7");
}

#[test]
fn transient_errors_at_20_percent_converge_seed_42() {
    converges_under_transient_errors("42");
}

/// Without faults every short step takes exactly one call (what makes the count above mean
/// retries).
#[test]
fn without_faults_every_short_step_is_called_once() {
    let d = tempfile::tempdir().unwrap();
    let r = apply(d.path(), &["--sim-time-scale", SCALE]);
    assert_eq!(r.code, 0, "{r}");
    assert!(!r.stderr.contains(": retry "), "{r}");
    let (rs, _) = replay(d.path());
    let mut short = 0;
    for rec in &rs {
        if let Event::StepDone { step, attempts, .. } = &rec.event
            && SHORT_STEPS.contains(&step.as_str())
        {
            assert_eq!(*attempts, 1, "{step}");
            short += 1;
        }
    }
    // Two site tasks' four steps, and eight nodes' verify_oob, identify, set_pxe_boot,
    // power_cycle, apply_networking and boot_action_report.
    assert_eq!(short, 4 + 8 * 6);
}

#[test]
fn too_many_transient_errors_fail_the_step_with_the_count() {
    let d = tempfile::tempdir().unwrap();
    let settings = d.path().join("settings.yaml");
    std::fs::write(&settings, "backoff_base_ms: 1\nbackoff_cap_ms: 5\n").unwrap();
    let r = apply(
        d.path(),
        &[
            "--sim-time-scale",
            SCALE,
            "--sim-transient-rate",
            "1",
            "--retries",
            "2",
            "--config",
            settings.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stdout.contains("site: FAILED: VerifySite/verify_services: simulated transient error in verify_services of site: the BMC did not answer (injected) (gave up after 2 retries)"),
        "{r}"
    );
    for node in DEMO_NODES {
        assert!(summary_line(&r, node).contains("not started"), "{r}");
    }
}

fn status_line(state: &Path, node: &str) -> String {
    status(state)[node].clone()
}

#[test]
fn a_permanently_failing_node_is_a_partial_success_with_its_reason() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path();
    let reason = "PrepareNode/configure_hardware: configure_hardware failed on node-a02: machine is Failed commissioning (injected failure)";
    let r = apply(
        state,
        &[
            "--sim-time-scale",
            SCALE,
            "--sim-fail",
            "node-a02:configure_hardware",
        ],
    );
    assert_eq!(r.code, 1, "{r}");
    let a02 = summary_line(&r, "node-a02");
    assert!(a02.contains("FAILED") && a02.contains(reason), "{a02}\n{r}");
    assert_deployed_in_summary(&r, &["node-a02"]);
    assert!(r.stdout.contains("Apply partly complete: 7/8 nodes"), "{r}");
    // The progress lines name the failure too.
    assert!(
        r.stderr.contains(&format!("node-a02: FAILED at {reason}")),
        "{r}"
    );

    let st = status(state);
    for (node, line) in &st {
        if node == "node-a02" {
            assert_eq!(status_state(line), "Failed commissioning", "{line}");
            assert!(
                line.ends_with(reason),
                "status shows the last error: {line}"
            );
        } else {
            assert_eq!(status_state(line), "Deployed", "{line}");
            assert!(line.ends_with(" -"), "no error for {node}: {line}");
        }
    }
    let (_, first) = replay(state);

    // Without the fault, a rerun finishes node-a02 alone and clears its error.
    let r = apply(state, &["--sim-time-scale", SCALE]);
    assert_eq!(r.code, 0, "{r}");
    assert!(summary_line(&r, "node-a02").contains("deployed"), "{r}");
    assert!(
        r.stdout.contains("Apply complete: 1/1 nodes"),
        "only node-a02 had work left: {r}"
    );
    assert_converged(state);
    let line = status_line(state, "node-a02");
    assert!(line.ends_with(" -"), "the error is cleared: {line}");
    // Its VerifyNode had succeeded and was skipped; PrepareNode failed and ran again.
    let (_, j) = replay(state);
    for t in j
        .tasks
        .values()
        .filter(|t| t.node.as_deref() == Some("node-a02"))
    {
        let expected = match t.kind {
            TaskKind::VerifyNode => 1,
            TaskKind::PrepareNode => 2,
            _ => 1,
        };
        assert_eq!(t.attempts, expected, "{} of node-a02", t.kind);
        assert_eq!(
            first.tasks[&t.id].state == drydock::state::TaskState::Succeeded,
            t.kind == TaskKind::VerifyNode
        );
    }
}

/// Nodes `drydock apply` reported as FAILED and as not started.
fn failed_and_not_started(r: &Run) -> (Vec<&'static str>, Vec<&'static str>) {
    let mut failed = Vec::new();
    let mut not_started = Vec::new();
    for node in DEMO_NODES {
        let l = summary_line(r, node);
        if l.contains("FAILED") {
            failed.push(node);
        } else if l.contains("not started") {
            not_started.push(node);
        }
    }
    (failed, not_started)
}

#[test]
fn max_failures_stops_starting_new_nodes() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path();
    let r = apply(
        state,
        &[
            "--sim-time-scale",
            SCALE,
            "--sim-fail",
            "node-a01",
            "--sim-fail",
            "node-a02",
            "--max-failures",
            "1",
            "--concurrency",
            "1",
        ],
    );
    assert_eq!(r.code, 1, "{r}");
    let (failed, not_started) = failed_and_not_started(&r);
    // One node at a time: the first failing node to run fails, and every node after it,
    // the other failing node among them, is not started.
    assert_eq!(failed.len(), 1, "{r}");
    assert!(["node-a01", "node-a02"].contains(&failed[0]), "{r}");
    let reason = format!(
        "VerifyNode/verify_oob: verify_oob: the BMC of {} rejected the credentials (injected failure)",
        failed[0]
    );
    assert!(summary_line(&r, failed[0]).contains(&reason), "{r}");
    assert!(!not_started.is_empty(), "{r}");
    for node in &not_started {
        assert!(
            summary_line(&r, node).contains("stopped after 1 node failure (--max-failures)"),
            "{r}"
        );
    }
    assert_eq!(
        failed.len() + not_started.len() + r.stdout.matches("  deployed").count(),
        8,
        "{r}"
    );
    // The nodes not started were never touched: no task of theirs started.
    let (rs, j) = replay(state);
    for rec in &rs {
        if let Event::TaskStarted { task } = &rec.event {
            let node = j.tasks[task].node.as_deref();
            assert!(
                !node.is_some_and(|n| not_started.contains(&n)),
                "{node:?} was not started, yet task {task} started"
            );
        }
    }
}

/// The non-firing case: without `--max-failures`, both failing nodes fail and the rest
/// deploy.
#[test]
fn without_max_failures_every_node_is_tried() {
    let d = tempfile::tempdir().unwrap();
    let r = apply(
        d.path(),
        &[
            "--sim-time-scale",
            SCALE,
            "--sim-fail",
            "node-a01",
            "--sim-fail",
            "node-a02",
            "--concurrency",
            "1",
        ],
    );
    assert_eq!(r.code, 1, "{r}");
    let (failed, not_started) = failed_and_not_started(&r);
    assert_eq!(failed, ["node-a01", "node-a02"], "{r}");
    assert!(not_started.is_empty(), "{r}");
    assert_deployed_in_summary(&r, &["node-a01", "node-a02"]);
    assert!(r.stdout.contains("Apply partly complete: 6/8 nodes"), "{r}");
}

#[test]
fn a_hung_step_fails_its_node_at_the_timeout_while_the_rest_deploy() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path();
    let t = Instant::now();
    let r = apply(
        state,
        &[
            "--sim-time-scale",
            SCALE,
            "--sim-hang",
            "node-b01:deploy",
            "--timeout",
            "deploy=2s",
        ],
    );
    let took = t.elapsed();
    assert_eq!(r.code, 1, "{r}");
    let b01 = summary_line(&r, "node-b01");
    assert!(
        b01.contains("FAILED") && b01.contains("DeployNode/deploy: deploy timed out after 2s"),
        "{b01}\n{r}"
    );
    assert_deployed_in_summary(&r, &["node-b01"]);
    assert!(took >= Duration::from_secs(2), "waited for the timeout");
    assert!(
        took < Duration::from_secs(20),
        "and not much longer: {took:?}"
    );
    let line = status_line(state, "node-b01");
    assert!(
        line.ends_with("DeployNode/deploy: deploy timed out after 2s"),
        "{line}"
    );
    // The step timeout is recorded as the task's failure.
    let (rs, _) = replay(state);
    assert!(rs.iter().any(|r| matches!(&r.event,
        Event::TaskFailed { step, error, .. }
            if step == StepKind::Deploy.as_str() && error == "deploy timed out after 2s")));

    // Without the hang, a rerun deploys it.
    let r = apply(state, &["--sim-time-scale", SCALE]);
    assert_eq!(r.code, 0, "{r}");
    assert_converged(state);
}

#[test]
fn a_failing_site_task_starts_no_node() {
    let d = tempfile::tempdir().unwrap();
    let r = apply(
        d.path(),
        &[
            "--sim-time-scale",
            SCALE,
            "--sim-fail",
            "site:prepare_images",
        ],
    );
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stdout.contains(
            "site: FAILED: PrepareSite/prepare_images: prepare_images failed (injected failure)"
        ),
        "{r}"
    );
    for node in DEMO_NODES {
        assert!(
            summary_line(&r, node).contains("not started   the site task failed"),
            "{r}"
        );
    }
    assert!(r.stdout.contains("Apply failed: 0/8 nodes"), "{r}");
    let r = apply(d.path(), &["--sim-time-scale", SCALE]);
    assert_eq!(r.code, 0, "{r}");
    assert_converged(d.path());
}

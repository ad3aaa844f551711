//! State you can trust: exit codes CI can rely on, reads while an apply runs, the lock, no
//! state from nowhere, saved plans from anywhere, corruption that fails fast, signals, and
//! terminal control characters. (Secrets echoed by a BMC: `tests/bmc_drivers.rs`; races and
//! stale locks: `tests/locking.rs`.)

mod apply_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use apply_support::*;

const SCALE: &str = "0.001";

fn demo() -> std::path::PathBuf {
    root().join("designs/demo")
}

fn cmd(args: &[&str]) -> Command {
    let mut c = drydock();
    c.args(args);
    c
}

fn deployed_state() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = apply(d.path(), &["--sim-time-scale", SCALE]);
    assert_eq!(r.code, 0, "{r}");
    d
}

// --- 1. Exit codes ---------------------------------------------------------------------------

#[test]
fn with_detailed_exitcode_every_error_is_1_and_only_changes_are_2() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    for (args, what) in [
        (
            vec![
                "plan",
                "designs/demoo",
                "--detailed-exitcode",
                "--state",
                st,
            ],
            "a mistyped path",
        ),
        (
            vec!["plan", "designs/demo", "--detailed-exitcode", "--bogus"],
            "a bad flag",
        ),
        (
            vec![
                "plan",
                "designs/invalid/DD2005-duplicate-ips",
                "--detailed-exitcode",
                "--state",
                st,
            ],
            "an invalid design",
        ),
    ] {
        let r = run(cmd(&args));
        assert_eq!(r.code, 1, "{what}: {r}");
    }
    let r = run(cmd(&[
        "plan",
        "designs/demo",
        "--detailed-exitcode",
        "--state",
        st,
    ]));
    assert_eq!(r.code, 2, "changes: {r}");
    // An unreadable (damaged) state is an error too.
    let d = deployed_state();
    std::fs::write(d.path().join("journal.head"), b"{not json").unwrap();
    let mut c = cmd(&["plan", "designs/demo", "--detailed-exitcode", "--state"]);
    c.arg(d.path());
    let r = run(c);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("damaged"), "{r}");
}

#[test]
fn every_command_documents_its_exit_codes() {
    for sub in [
        "validate",
        "plan",
        "apply",
        "destroy",
        "status",
        "tasks",
        "force-unlock",
    ] {
        let r = run(cmd(&[sub, "--help"]));
        assert_eq!(r.code, 0, "{sub}: {r}");
        assert!(r.stdout.contains("Exit codes:"), "{sub} --help: {r}");
    }
}

// --- 2. Reads while an apply runs ------------------------------------------------------------

#[test]
fn plan_status_and_tasks_read_a_running_apply_without_blocking_it() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let mut w = Watched::start(
        st,
        &["--sim-time-scale", SCALE, "--sim-hang", "node-b02:deploy"],
    );
    assert!(
        w.wait_for(Duration::from_secs(60), |l| l
            .ends_with("node-b02: DeployNode/deploy")),
        "{:?}",
        w.lines
    );
    let pid = w.child.id();
    let mut c = drydock();
    c.args(["status", "designs/demo", "--state"]).arg(st);
    let status = run(c);
    assert_eq!(status.code, 0, "{status}");
    assert!(
        status
            .stderr
            .contains(&format!("an apply is running on this site (pid {pid} ")),
        "{status}"
    );
    assert!(status.stdout.contains("node-b02"), "{status}");
    let mut c = drydock();
    c.args(["tasks", "designs/demo", "--state"]).arg(st);
    let tasks = run(c);
    assert_eq!(tasks.code, 0, "{tasks}");
    assert!(tasks.stdout.contains("started"), "{tasks}");
    let plan = plan_design(&demo(), st, &[]);
    assert_eq!(plan.code, 2, "{plan}");
    assert!(
        plan.stderr.contains("may change when that apply ends"),
        "{plan}"
    );
    // The apply was never blocked: it is still running, and still answers a signal.
    assert!(w.child.try_wait().unwrap().is_none(), "the apply runs on");
    w.signal(libc::SIGTERM);
    let (status, out, lines) = w.finish();
    assert_eq!(status.code(), Some(143), "{out}\n{lines:?}");
}

// --- 4. No state from nowhere ------------------------------------------------------------------

#[test]
fn reading_a_state_directory_that_does_not_exist_is_an_error_not_an_empty_site() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("typo");
    for sub in ["status", "tasks"] {
        let mut c = drydock();
        c.args([sub, "designs/demo", "--state"]).arg(&missing);
        let r = run(c);
        assert_eq!(r.code, 1, "{sub}: {r}");
        assert!(
            r.stderr.contains(&format!(
                "no state at {}: nothing has been applied from here",
                missing.display()
            )) && r.stderr.contains("--state"),
            "{sub}: {r}"
        );
    }
    // plan still plans, and says so above the plan.
    let r = plan_design(&demo(), &missing, &[]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.starts_with("note: no state at"), "{r}");
    assert!(!missing.exists(), "no command but apply created it");
}

// --- 5. Saved plans and destroy -----------------------------------------------------------------

#[test]
fn a_saved_plan_applies_from_any_directory_and_is_confirmed_like_a_design() {
    let state = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let planfile = state.path().join("site.plan");
    let mut c = drydock();
    c.args(["plan", "designs/demo", "--out"])
        .arg(&planfile)
        .arg("--state")
        .arg(state.path().join("s"));
    assert_eq!(run(c).code, 0);
    // Without a terminal and without --auto-approve: refused.
    let mut c = drydock();
    c.current_dir(elsewhere.path()).arg("apply").arg(&planfile);
    let r = run(c);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains("refusing to apply without confirmation"),
        "{r}"
    );
    // From another directory, with approval: applied where it was planned.
    let mut c = drydock();
    c.current_dir(elsewhere.path())
        .args([
            "apply",
            "--auto-approve",
            "--progress",
            "none",
            "--sim-time-scale",
            SCALE,
        ])
        .arg(&planfile);
    let r = run(c);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("Apply complete: 8/8 nodes"), "{r}");
    assert_converged(&state.path().join("s"));
}

#[test]
fn destroy_takes_the_design_and_warns_about_a_node_still_in_it() {
    let d = deployed_state();
    let mut c = drydock();
    c.args([
        "destroy",
        "designs/demo",
        "--node",
        "node-c02",
        "--auto-approve",
        "--progress",
        "none",
        "--sim-time-scale",
        SCALE,
        "--state",
    ])
    .arg(d.path());
    let r = run(c);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stderr
            .contains("node node-c02 is still in the design: the next apply will deploy it again"),
        "{r}"
    );
    assert!(r.stdout.contains("destroyed"), "{r}");
    let p = plan_design(&demo(), d.path(), &[]);
    assert!(p.stdout.contains("+ node-c02 will be deployed"), "{p}");
}

// --- 7. Corruption fails fast -------------------------------------------------------------------

/// Run `args` with a bound on its time (a hang fails the test instead of hanging it).
fn bounded(mut c: Command, limit: Duration) -> Run {
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{c:?} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn copy_state(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn every_corruption_of_a_finished_state_is_reported_at_once() {
    let good = deployed_state();
    let files = ["journal.log", "journal.head", "sim.log", "sim.head"];
    // Deterministic draws: truncations, flipped bytes in several places, deleted files.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    type Corruption = Box<dyn Fn(&Path)>;
    let mut cases: Vec<(String, Corruption)> = Vec::new();
    for f in files {
        let len = std::fs::metadata(good.path().join(f)).unwrap().len() as usize;
        for _ in 0..4 {
            let at = next(len);
            cases.push((
                format!("{f} truncated to {at} bytes"),
                Box::new(move |d: &Path| {
                    let p = d.join(f);
                    let b = std::fs::read(&p).unwrap();
                    std::fs::write(&p, &b[..at]).unwrap();
                }),
            ));
        }
        for _ in 0..6 {
            let (at, bit) = (next(len), next(8));
            cases.push((
                format!("{f}: bit {bit} of byte {at} flipped"),
                Box::new(move |d: &Path| {
                    let p = d.join(f);
                    let mut b = std::fs::read(&p).unwrap();
                    b[at] ^= 1 << bit;
                    std::fs::write(&p, &b).unwrap();
                }),
            ));
        }
        cases.push((
            format!("{f} deleted"),
            Box::new(move |d: &Path| std::fs::remove_file(d.join(f)).unwrap()),
        ));
    }
    for (what, corrupt) in &cases {
        let d = tempfile::tempdir().unwrap();
        copy_state(good.path(), d.path());
        corrupt(d.path());
        for sub in [
            vec!["status", "designs/demo"],
            vec!["plan", "designs/demo"],
            vec!["tasks", "designs/demo"],
            vec!["state", "verify"],
        ] {
            let mut c = drydock();
            c.args(&sub).arg("--state").arg(d.path());
            let r = bounded(c, Duration::from_secs(20));
            assert_eq!(r.code, 1, "{what}: {sub:?}: {r}");
            assert!(
                r.stderr.contains("is damaged") && r.stderr.contains("drydock state verify"),
                "{what}: {sub:?} says the state is damaged and what to do: {r}"
            );
        }
    }
    assert!(cases.len() >= 40);
}

#[test]
fn backup_verify_and_rebuild_recover_a_lost_journal() {
    let d = deployed_state();
    let backup = tempfile::tempdir().unwrap().path().join("copy");
    let mut c = drydock();
    c.args(["state", "backup", "--state"])
        .arg(d.path())
        .arg("--to")
        .arg(&backup);
    let r = run(c);
    assert_eq!(r.code, 0, "{r}");
    let mut c = drydock();
    c.args(["state", "verify", "--state"]).arg(&backup);
    let r = run(c);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("whole"), "{r}");
    // The journal is lost: rebuild it from what the provisioner reports.
    std::fs::remove_file(d.path().join("journal.log")).unwrap();
    let mut c = drydock();
    c.args(["state", "rebuild", "designs/demo", "--state"])
        .arg(d.path());
    let r = run(c);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("8 node(s) recorded as deployed"), "{r}");
    let p = plan_design(&demo(), d.path(), &[]);
    assert_eq!(p.code, 0, "nothing to do after the rebuild: {p}");
}

// --- 9. Signals ---------------------------------------------------------------------------------

#[test]
fn sigterm_and_sighup_cancel_like_ctrl_c_and_the_rerun_resumes() {
    for (sig, code, when) in [
        (libc::SIGTERM, 143, "node-a01: PrepareNode started"),
        (libc::SIGHUP, 129, "node-b01: DeployNode/deploy"),
        (libc::SIGTERM, 143, "site: VerifySite started"),
    ] {
        let state = tempfile::tempdir().unwrap();
        let st = state.path();
        let mut w = Watched::start(st, &["--sim-time-scale", "0.01"]);
        assert!(
            w.wait_for(Duration::from_secs(60), |l| l.ends_with(when)),
            "{when}: {:?}",
            w.lines
        );
        w.signal(sig);
        let (status, out, lines) = w.finish();
        assert_eq!(status.code(), Some(code), "{when}: {out}\n{lines:?}");
        assert!(out.contains("Apply cancelled"), "{out}");
        // The cancellation is journaled, the lock released; the rerun resumes.
        let (rs, j) = replay(st);
        assert!(
            matches!(
                j.last_run,
                Some((_, Some(drydock::state::Outcome::Cancelled)))
            ),
            "{:?}",
            j.last_run
        );
        assert_no_rerun_after_success(&rs);
        assert!(!st.join("lock").exists(), "the lock is released");
        let r = apply(st, &["--sim-time-scale", SCALE]);
        assert_eq!(r.code, 0, "{r}");
        assert_converged(st);
    }
}

#[test]
fn a_signal_at_once_is_handled_the_same_way() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let w = Watched::start(st, &["--sim-time-scale", SCALE]);
    w.signal(libc::SIGTERM);
    let (status, out, _) = w.finish();
    // Before drydock's handlers exist (the first instants of the process) the signal ends it
    // with nothing written; after, it cancels cleanly. Either way nothing is left half-done.
    use std::os::unix::process::ExitStatusExt;
    match status.code() {
        Some(143) => assert!(out.contains("Apply cancelled") || out.is_empty(), "{out}"),
        None => assert_eq!(status.signal(), Some(libc::SIGTERM)),
        other => panic!("unexpected exit {other:?}: {out}"),
    }
    assert!(!st.join("lock").exists(), "no lock is left");
    let r = apply(st, &["--sim-time-scale", SCALE]);
    assert_eq!(r.code, 0, "{r}");
    assert_converged(st);
}

// --- 10. Terminal control characters -----------------------------------------------------------

#[test]
fn control_characters_from_the_design_are_escaped_in_human_output() {
    let state = deployed_state();
    let design = tempfile::tempdir().unwrap();
    copy_design(&demo(), design.path());
    edit(
        design.path(),
        "nodes/rack-a.yaml",
        "      service_tag: '4QXK2N5'",
        "      service_tag: \"4QXK2N5\\e[2J\"",
    );
    let p = plan_design(design.path(), state.path(), &[]);
    assert_eq!(p.code, 2, "{p}");
    assert!(
        !p.stdout.contains('\u{1b}'),
        "a raw ESC reaches the terminal: {p}"
    );
    assert!(p.stdout.contains("4QXK2N5\\u{1b}[2J"), "{p}");
}

// --- 6. A design that could not be read destroys nothing -------------------------------------

#[test]
fn a_design_with_an_unreadable_file_destroys_nothing() {
    let state = deployed_state();
    let design = tempfile::tempdir().unwrap();
    copy_design(&demo(), design.path());
    // rack-c's nodes cannot be read (a dangling link stands for any unreadable file: this
    // test runs as root, for whom permission bits do not stop a read).
    let rack_c = design.path().join("nodes/rack-c.yaml");
    std::fs::remove_file(&rack_c).unwrap();
    std::os::unix::fs::symlink(design.path().join("gone"), &rack_c).unwrap();
    let r = run(apply_design_cmd(
        design.path(),
        state.path(),
        &["--sim-time-scale", SCALE, "--destroy-removed"],
    ));
    assert_eq!(r.code, 1, "{r}");
    assert!(!r.stdout.contains("will be destroyed"), "{r}");
    let w = world(state.path());
    for n in ["node-c01", "node-c02"] {
        assert!(
            w.machines[n].deployed_fingerprint.is_some(),
            "{n} is still deployed"
        );
    }
}

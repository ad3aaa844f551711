//! The site lock through the CLI (issue 4): of two applies on one state directory exactly one
//! runs, and the other fails at once naming the holder (pid, host, start time); a lock left
//! by a killed apply is taken over with a note; `drydock force-unlock` removes a lock.
//!
//! Lock files naming a live process are written by hand with this test process's pid. The
//! lock module's own unit tests cover the in-process cases; these run real processes.

mod apply_support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use apply_support::*;
use drydock::state::Event;
use drydock::state::lock::{Holder, format_time, hostname};

/// Slow enough that an apply is still running while the test looks at it (about 4 s).
const SLOW: &str = "0.02";
const FAST: &str = "0.001";

fn lock_path(state: &Path) -> std::path::PathBuf {
    state.join("lock")
}

fn read_lock(state: &Path) -> Option<Holder> {
    serde_json::from_slice(&std::fs::read(lock_path(state)).ok()?).ok()
}

fn write_lock(state: &Path, h: &Holder) {
    std::fs::create_dir_all(state).unwrap();
    std::fs::write(lock_path(state), serde_json::to_vec(h).unwrap()).unwrap();
}

/// Start a slow apply and wait until it holds the lock; returns it with the lock's holder.
fn start_holder(state: &Path) -> (Child, Holder) {
    let mut child = apply_cmd(state, &["--sim-time-scale", SLOW])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("drydock starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(h) = read_lock(state).filter(|h| h.pid == child.id()) {
            return (child, h);
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the first apply never held the lock");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The line `drydock apply` prints when `h` holds the lock.
fn held_message(h: &Holder) -> String {
    format!(
        "error: another drydock is applying to this site: pid {} on {}, started {} (drydock apply)",
        h.pid,
        h.host,
        format_time(h.started_ms)
    )
}

fn run_starts(state: &Path) -> Vec<u32> {
    records(state)
        .into_iter()
        .filter_map(|r| match r.event {
            Event::RunStarted { pid, .. } => Some(pid),
            _ => None,
        })
        .collect()
}

#[test]
fn a_second_apply_fails_at_once_naming_the_holder() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path();
    let (mut first, holder) = start_holder(state);
    assert_eq!(holder.host, hostname());

    let t = Instant::now();
    let second = apply(state, &["--sim-time-scale", FAST]);
    let took = t.elapsed();
    assert_eq!(second.code, 1, "{second}");
    assert!(second.stderr.contains(&held_message(&holder)), "{second}");
    // The holder is alive on this host: waiting is the only advice, never force-unlock.
    assert!(
        second
            .stderr
            .contains("help: wait for it to finish (`drydock status` shows its progress)"),
        "{second}"
    );
    assert!(!second.stderr.contains("force-unlock"), "{second}");
    // At once: it did not wait for the first apply (which runs for about four seconds).
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first apply is still running"
    );

    let status = first.wait().unwrap();
    assert!(status.success(), "the first apply completes: {status:?}");
    assert_eq!(run_starts(state), [holder.pid], "only the first apply ran");
    assert!(
        read_lock(state).is_none(),
        "the lock is released at the end"
    );
    assert_converged(state);
}

#[test]
fn of_two_applies_started_together_exactly_one_runs() {
    for round in 0..3 {
        let d = tempfile::tempdir().unwrap();
        let state = d.path();
        let spawn = || {
            apply_cmd(state, &["--sim-time-scale", "0.005"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("drydock starts")
        };
        let (a, b) = (spawn(), spawn());
        let (a_pid, b_pid) = (a.id(), b.id());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let codes = (a.status.code(), b.status.code());
        let (winner, loser) = match codes {
            (Some(0), Some(1)) => (a_pid, &b),
            (Some(1), Some(0)) => (b_pid, &a),
            _ => panic!(
                "round {round}: one succeeds and one is refused, got {codes:?}\n{}\n{}",
                String::from_utf8_lossy(&a.stderr),
                String::from_utf8_lossy(&b.stderr)
            ),
        };
        let err = String::from_utf8_lossy(&loser.stderr);
        assert!(
            err.contains(&format!(
                "error: another drydock is applying to this site: pid {winner} on "
            )),
            "round {round}: {err}"
        );
        assert_eq!(run_starts(state), [winner], "round {round}");
        assert_converged(state);
    }
}

#[test]
fn a_lock_left_by_a_killed_apply_is_taken_over() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path();
    let (mut first, holder) = start_holder(state);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(
        read_lock(state),
        Some(holder.clone()),
        "SIGKILL leaves the lock behind"
    );

    let r = apply(state, &["--sim-time-scale", FAST]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stderr.contains(&format!(
            "note: took over the site lock left by pid {} on {}, started {} (drydock apply), which is no longer running",
            holder.pid,
            holder.host,
            format_time(holder.started_ms)
        )),
        "{r}"
    );
    assert!(read_lock(state).is_none(), "released at the end");
    assert_converged(state);
}

/// The non-firing case of stale-lock detection: a holder on another host cannot be checked,
/// so its lock is never taken over, even with a pid that does not run here.
#[test]
fn a_lock_held_on_another_host_is_not_taken_over() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path();
    let h = Holder {
        pid: u32::MAX - 1,
        host: format!("not-{}", hostname()),
        started_ms: 1_700_000_000_000,
        command: "drydock apply".into(),
    };
    write_lock(state, &h);
    let r = apply(state, &["--sim-time-scale", FAST]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains(&held_message(&h)), "{r}");
    assert_eq!(read_lock(state), Some(h), "the lock is left alone");
}

#[test]
fn force_unlock_refuses_a_live_holder_and_force_removes_it() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path();
    // This test process is alive, so the lock looks held.
    let me = Holder {
        pid: std::process::id(),
        host: hostname(),
        started_ms: drydock::state::now_ms(),
        command: "drydock apply".into(),
    };
    write_lock(state, &me);
    let r = apply(state, &["--sim-time-scale", FAST]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains(&held_message(&me)), "{r}");
    assert_eq!(
        read_lock(state),
        Some(me.clone()),
        "a held lock is left alone"
    );

    // Its holder (this process) is alive here: force-unlock refuses, naming the pid.
    let mut c = drydock();
    c.args(["force-unlock", "--state"]).arg(state);
    let r = run(c);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains(&format!(
            "its holder, pid {}, is running on this host",
            me.pid
        )),
        "{r}"
    );
    assert!(r.stderr.contains("--force"), "{r}");
    assert_eq!(read_lock(state), Some(me.clone()), "the live lock is kept");

    let mut c = drydock();
    c.args(["force-unlock", "--force", "--state"]).arg(state);
    let r = run(c);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(
        r.stdout.trim(),
        format!(
            "Removed the site lock held by pid {} on {}, started {} (drydock apply).",
            me.pid,
            me.host,
            format_time(me.started_ms)
        )
    );
    assert!(!lock_path(state).exists());

    let r = apply(state, &["--sim-time-scale", FAST]);
    assert_eq!(r.code, 0, "{r}");
    assert!(!r.stderr.contains("took over"), "{r}");

    let mut c = drydock();
    c.args(["force-unlock", "--state"]).arg(state);
    let r = run(c);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(
        r.stdout.trim(),
        format!("There was no site lock in {}.", state.display())
    );
}

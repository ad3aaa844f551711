//! What the `drydock apply` integration tests share: running the binary on `designs/demo` with
//! a state directory of its own, reading the journal back with the library (only once no
//! process holds it open), and the convergence check. It does not start anything in the
//! background: every child process is waited for by the test that spawned it.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::cell::Cell;

use drydock::driver::sim::World;
use drydock::plan::TaskId;
use drydock::state::file_store::FileStore;
use drydock::state::{Event, Journal, Record};

#[path = "../pg_support/mod.rs"]
pub mod pg_support;

thread_local! {
    static POSTGRES: Cell<bool> = const { Cell::new(false) };
}

/// Keep the journal of every state directory this test uses in PostgreSQL (a database of its
/// own per state directory, on the binary's private cluster), instead of in the directory.
pub fn use_postgres() {
    POSTGRES.with(|p| p.set(true));
}

/// The connection string of the database of `state`, with PostgreSQL (`use_postgres`).
pub fn database(state: &Path) -> Option<String> {
    if !POSTGRES.with(Cell::get) {
        return None;
    }
    let c = pg_support::Cluster::get();
    let name = format!(
        "s{}",
        &drydock::source::digest(state.display().to_string().as_bytes())[..16]
    );
    c.create(&name);
    Some(c.url(&name))
}

/// Point a command at the journal of `state` (its database, with PostgreSQL).
pub fn backend(c: &mut Command, state: &Path) {
    if let Some(url) = database(state) {
        c.env("DRYDOCK_DATABASE", url);
    }
}

/// The demo site's nodes, in name order.
pub const DEMO_NODES: [&str; 8] = [
    "node-a01", "node-a02", "node-a03", "node-b01", "node-b02", "node-b03", "node-c01", "node-c02",
];

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary, run from the repository root, without colour or an inherited state directory.
pub fn drydock() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_drydock"));
    c.current_dir(root())
        .env_remove("DRYDOCK_STATE")
        .env_remove("DRYDOCK_LOG")
        .env_remove("DRYDOCK_DATABASE")
        .env("NO_COLOR", "1");
    c
}

/// `drydock apply designs/demo --auto-approve --state STATE --progress plain <args>`.
pub fn apply_cmd(state: &Path, args: &[&str]) -> Command {
    apply_design_cmd(&root().join("designs/demo"), state, args)
}

/// `drydock apply DESIGN --auto-approve --state STATE --progress plain <args>`.
pub fn apply_design_cmd(design: &Path, state: &Path, args: &[&str]) -> Command {
    let mut c = drydock();
    c.arg("apply")
        .arg(design)
        .args(["--auto-approve", "--progress", "plain"])
        .arg("--state")
        .arg(state)
        .args(args);
    backend(&mut c, state);
    c
}

/// `drydock plan DESIGN --state STATE --detailed-exitcode <args>`.
pub fn plan_design(design: &Path, state: &Path, args: &[&str]) -> Run {
    let mut c = drydock();
    c.arg("plan")
        .arg(design)
        .arg("--detailed-exitcode")
        .arg("--state")
        .arg(state)
        .args(args);
    backend(&mut c, state);
    run(c)
}

/// A copy of a design directory (tests edit the copy).
pub fn copy_design(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_design(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Replace `from` by `to` in a file of a design copy (exactly once).
pub fn edit(design: &Path, file: &str, from: &str, to: &str) {
    let p = design.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(text.matches(from).count(), 1, "`{from}` once in {file}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

/// Exit code, standard output and standard error of a finished command.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub fn run(mut c: Command) -> Run {
    let out = c.stdin(Stdio::null()).output().expect("drydock runs");
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 output"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 errors"),
    }
}

pub fn apply(state: &Path, args: &[&str]) -> Run {
    run(apply_cmd(state, args))
}

/// Start an apply whose standard error (the plain progress lines) the caller reads.
pub fn spawn_apply(state: &Path, args: &[&str]) -> Child {
    apply_cmd(state, args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("drydock starts")
}

/// A running apply whose plain progress lines (standard error) are read as they come, so a
/// test can act when the apply reaches a point (an event), not after a fixed time.
pub struct Watched {
    pub child: Child,
    rx: mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
    stdout: Option<std::thread::JoinHandle<String>>,
    pub lines: Vec<String>,
}

impl Watched {
    pub fn start(state: &Path, args: &[&str]) -> Watched {
        Watched::spawn(apply_cmd(state, args))
    }

    /// Start any command with its standard error piped.
    pub fn spawn(mut c: Command) -> Watched {
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("drydock starts");
        let stderr = child.stderr.take().expect("piped standard error");
        let mut stdout = child.stdout.take().expect("piped standard output");
        // Read standard output as it comes too, so a full pipe never blocks the child.
        let stdout = std::thread::spawn(move || {
            let mut out = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
            out
        });
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watched {
            child,
            rx,
            reader: Some(reader),
            stdout: Some(stdout),
            lines: Vec::new(),
        }
    }

    /// Wait for a line that satisfies `pred`; false if the child's output ended first. `limit`
    /// only guards against a hung child (a test that hits it fails), it is not a timing.
    pub fn wait_for(&mut self, limit: Duration, pred: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = pred(&l);
                    self.lines.push(l);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// Send a signal (`libc::SIGKILL`, `SIGTERM`, ...).
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Wait for the child to exit; its exit status, standard output and every stderr line.
    pub fn finish(mut self) -> (ExitStatus, String, Vec<String>) {
        let status = self.child.wait().expect("the child is reaped");
        let out = self
            .stdout
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.lines.extend(self.rx.try_iter());
        (status, out, self.lines)
    }
}

/// Every journal record (readable while an apply writes it); none when there is no journal
/// yet (an apply killed before it wrote one).
pub fn records(state: &Path) -> Vec<Record> {
    if let Some(url) = database(state) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        return rt.block_on(async {
            let client = drydock::state::postgres::connect(&url).await.unwrap();
            drydock::state::postgres::read_from(&client, 0)
                .await
                .unwrap_or_else(|e| panic!("the journal of {} reads back: {e}", state.display()))
                .into_iter()
                .map(|(_, r)| r)
                .collect()
        });
    }
    FileStore::read(state)
        .unwrap_or_else(|e| panic!("the journal in {} reads back: {e}", state.display()))
        .unwrap_or_default()
}

/// The journal replayed; panics (with the records) when the replay refuses it.
pub fn replay(state: &Path) -> (Vec<Record>, Journal) {
    let rs = records(state);
    match Journal::replay(rs.clone()) {
        Ok(j) => (rs, j),
        Err(e) => panic!("the journal does not replay: {e}\nrecords: {rs:#?}"),
    }
}

/// The task id of a task event.
pub fn task_of(e: &Event) -> Option<&TaskId> {
    match e {
        Event::TaskQueued { task, .. }
        | Event::TaskStarted { task }
        | Event::StepDone { task, .. }
        | Event::TaskSucceeded { task, .. }
        | Event::TaskFailed { task, .. }
        | Event::TaskCancelled { task } => Some(task),
        _ => None,
    }
}

/// No task recorded as succeeded is started (or queued) again afterwards.
pub fn assert_no_rerun_after_success(rs: &[Record]) {
    let mut succeeded: HashMap<&TaskId, usize> = HashMap::new();
    for (i, r) in rs.iter().enumerate() {
        match &r.event {
            Event::TaskSucceeded { task, .. } => {
                succeeded.insert(task, i);
            }
            Event::TaskStarted { task } | Event::TaskQueued { task, .. } => {
                if let Some(at) = succeeded.get(task) {
                    panic!(
                        "task {task} succeeded at record {at} and was {} again at record {i} (run {})",
                        if matches!(r.event, Event::TaskStarted { .. }) {
                            "started"
                        } else {
                            "queued"
                        },
                        r.run
                    );
                }
            }
            _ => {}
        }
    }
}

/// Tasks recorded as started and not finished (what a crash interrupted).
pub fn unfinished(j: &Journal) -> HashSet<TaskId> {
    j.tasks
        .values()
        .filter(|t| t.state == drydock::state::TaskState::Started)
        .map(|t| t.id.clone())
        .collect()
}

/// `drydock status` as a map from node to its line's columns (node, state, power, last task,
/// last error).
pub fn status(state: &Path) -> BTreeMap<String, String> {
    let mut c = drydock();
    c.args(["status", "designs/demo", "--state"]).arg(state);
    backend(&mut c, state);
    let r = run(c);
    assert_eq!(r.code, 0, "drydock status:\n{r}");
    r.stdout
        .lines()
        .filter(|l| l.starts_with("node-"))
        .map(|l| {
            let name = l.split_whitespace().next().expect("a node name");
            (name.to_string(), l.to_string())
        })
        .collect()
}

/// The STATE column of a `drydock status` line (it may hold spaces: `Failed commissioning`).
pub fn status_state(line: &str) -> &str {
    // Columns: name padded to the longest name, two spaces, state padded to 22.
    let rest = line.split_once("  ").map_or("", |(_, r)| r.trim_start());
    rest.get(..22).unwrap_or(rest).trim_end()
}

/// The site converged: a detailed-exit-code plan has nothing to do and every node is
/// Deployed per `drydock status`.
pub fn assert_converged(state: &Path) {
    let mut c = drydock();
    c.args(["plan", "designs/demo", "--detailed-exitcode", "--state"])
        .arg(state);
    let r = run(c);
    assert_eq!(r.code, 0, "plan after the applies still has changes:\n{r}");
    let st = status(state);
    assert_eq!(
        st.keys().map(String::as_str).collect::<Vec<_>>(),
        DEMO_NODES,
        "status lists the demo nodes"
    );
    for (node, line) in &st {
        assert_eq!(status_state(line), "Deployed", "{node}: {line}");
    }
}

/// `drydock tasks --state STATE --task ID`: attempts and, per step, the number of driver calls.
pub struct TaskView {
    pub attempts: u32,
    pub state: String,
    pub steps: Vec<(String, u32)>,
}

pub fn task_view(state: &Path, id: &TaskId) -> TaskView {
    let mut c = drydock();
    c.args(["tasks", "--state"])
        .arg(state)
        .arg("--task")
        .arg(&id.0);
    backend(&mut c, state);
    let r = run(c);
    assert_eq!(r.code, 0, "drydock tasks {id}:\n{r}");
    let field = |name: &str| {
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no `{name}` in:\n{r}"))
            .to_string()
    };
    let steps = r
        .stdout
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix("  ")?;
            let mut w = l.split_whitespace();
            let step = w.next()?.to_string();
            let _secs = w.next()?;
            let calls = w.next()?.parse().ok()?;
            Some((step, calls))
        })
        .collect();
    TaskView {
        attempts: field("attempts").parse().expect("a number of attempts"),
        state: field("state"),
        steps,
    }
}

/// The simulator's world; no process may hold the state directory open.
pub fn world(state: &Path) -> World {
    World::load(state).expect("the simulator's world loads")
}

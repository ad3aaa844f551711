//! Live progress of an apply and its final summary. `fancy`: an overall bar with elapsed time
//! and ETA, and one line per active node with its current step (indicatif). `plain`: one log
//! line per event (task started, step, retry, task finished, node finished), for CI logs and
//! pipes. `none`: nothing until the summary.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use crate::execute::{ApplyResult, Event, NodeOutcome};
use crate::state::Outcome;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    Fancy,
    Plain,
    None,
}

fn who(node: &Option<String>) -> &str {
    node.as_deref().unwrap_or("site")
}

/// Show events until the executor drops its sender.
pub async fn show(mut rx: mpsc::UnboundedReceiver<Event>, mode: ProgressMode, total_nodes: usize) {
    match mode {
        ProgressMode::None => while rx.recv().await.is_some() {},
        ProgressMode::Plain => {
            let start = std::time::Instant::now();
            while let Some(e) = rx.recv().await {
                let t = start.elapsed().as_secs_f64();
                let line = match &e {
                    Event::TaskStarted { node, task } => format!("{}: {task} started", who(node)),
                    Event::Step { node, task, step } => format!("{}: {task}/{step}", who(node)),
                    Event::Retry {
                        node,
                        step,
                        attempt,
                        error,
                    } => format!("{}: {step}: retry {attempt} after: {error}", who(node)),
                    Event::TaskFinished { node, task, ok } => format!(
                        "{}: {task} {}",
                        who(node),
                        if *ok { "succeeded" } else { "did not succeed" }
                    ),
                    Event::NodeFinished { node, outcome } => {
                        format!("{node}: {}", outcome_text(outcome))
                    }
                };
                eprintln!("[{t:8.2}s] {}", crate::source::printable(&line));
            }
        }
        ProgressMode::Fancy => {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let overall = multi.add(ProgressBar::new(total_nodes as u64));
            overall.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {pos}/{len} nodes, ETA {eta} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            overall.enable_steady_tick(Duration::from_millis(200));
            let line_style = ProgressStyle::with_template("  {spinner} {prefix:<16} {msg}")
                .expect("valid template");
            let mut lines: HashMap<String, ProgressBar> = HashMap::new();
            let (mut failed, mut retries) = (0, 0);
            while let Some(e) = rx.recv().await {
                match &e {
                    Event::TaskStarted { node, task } => {
                        let key = who(node).to_string();
                        let bar = lines.entry(key.clone()).or_insert_with(|| {
                            let b = multi.insert_before(&overall, ProgressBar::new_spinner());
                            b.set_style(line_style.clone());
                            b.set_prefix(key);
                            b.enable_steady_tick(Duration::from_millis(120));
                            b
                        });
                        bar.set_message(task.to_string());
                    }
                    Event::Step { node, task, step } => {
                        if let Some(b) = lines.get(who(node)) {
                            b.set_message(format!("{task}/{step}"));
                        }
                    }
                    Event::Retry {
                        node,
                        step,
                        attempt,
                        error,
                    } => {
                        retries += 1;
                        if let Some(b) = lines.get(who(node)) {
                            b.set_message(format!("{step}: retry {attempt} ({error})"));
                        }
                    }
                    Event::TaskFinished { node: None, .. } => {
                        if let Some(b) = lines.remove("site") {
                            b.finish_and_clear();
                        }
                    }
                    Event::TaskFinished { .. } => {}
                    Event::NodeFinished { node, outcome } => {
                        if let Some(b) = lines.remove(node.as_str()) {
                            b.finish_and_clear();
                        }
                        if outcome.failed() {
                            failed += 1;
                            let _ = multi.println(crate::source::printable(&format!(
                                "  {node}: {}",
                                outcome_text(outcome)
                            )));
                        }
                        overall.inc(1);
                        overall.set_message(format!("({failed} failed, {retries} retries)"));
                    }
                }
            }
            for (_, b) in lines {
                b.finish_and_clear();
            }
            overall.finish_and_clear();
        }
    }
}

fn outcome_text(o: &NodeOutcome) -> String {
    match o {
        NodeOutcome::Succeeded(done) => done.as_str().into(),
        NodeOutcome::AlreadyDone => "already done".into(),
        NodeOutcome::Failed { at, error } => format!("FAILED at {at}: {error}"),
        NodeOutcome::NotStarted { why } => format!("not started: {why}"),
        NodeOutcome::Cancelled { at } => format!("unfinished ({at}): cancelled"),
    }
}

/// The final table: one line per node with its outcome and, for failures, the reason.
pub fn summary(r: &ApplyResult, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let width = r
        .nodes
        .iter()
        .map(|n| n.node.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut s = String::from("\n");
    s.push_str(&format!(
        "{:<width$}  {:<12}  {}\n",
        "NODE", "RESULT", "DETAIL"
    ));
    for n in &r.nodes {
        let (res, code, detail) = match &n.outcome {
            NodeOutcome::Succeeded(done) => (done.as_str(), "32", String::new()),
            NodeOutcome::AlreadyDone => (
                "done before",
                "32",
                "every task succeeded in an earlier run".into(),
            ),
            NodeOutcome::Failed { at, error } => ("FAILED", "1;31", format!("{at}: {error}")),
            NodeOutcome::NotStarted { why } => ("not started", "33", why.clone()),
            NodeOutcome::Cancelled { at } => (
                "unfinished",
                "33",
                format!("{at}: cancelled mid-way; the next apply resumes it"),
            ),
        };
        s.push_str(&format!(
            "{:<width$}  {}  {}\n",
            crate::source::printable(&n.node),
            paint(code, &format!("{res:<12}")),
            crate::source::printable(&detail)
        ));
    }
    if let Some(e) = &r.site_error {
        s.push_str(&format!(
            "\nsite: FAILED: {}\n",
            crate::source::printable(e)
        ));
    }
    let ok = r.nodes.iter().filter(|n| n.outcome.ok()).count();
    let verdict = match r.outcome {
        Outcome::Success => paint("1;32", "Apply complete"),
        Outcome::Partial => paint("1;33", "Apply partly complete"),
        Outcome::Failure => paint("1;31", "Apply failed"),
        Outcome::Cancelled => paint("1;33", "Apply cancelled"),
    };
    let secs = r.elapsed.as_secs_f64();
    s.push_str(&format!(
        "\n{verdict}: {ok}/{} nodes, {} tasks run, {} skipped (done before), {} steps, in {secs:.2}s.\n",
        r.nodes.len(),
        r.tasks_run,
        r.tasks_skipped,
        r.steps_run,
    ));

    if r.outcome != Outcome::Success {
        s.push_str(
            "Run `drydock apply` again to retry: it resumes, skipping every task that succeeded.\n",
        );
    }
    s
}

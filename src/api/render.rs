//! The API's JSON documents, in the old implementation's shapes: a task (status, result with
//! successes and failures, subtasks, per-node results, timings), the `Status` document of
//! errors and validation, a node. Rendering only: what they say comes from the journal.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::service::NodeView;
use crate::state::lock::format_rfc3339;
use crate::state::{Journal, RequestInfo, RequestState, TaskState};

fn time(ms: Option<u64>) -> Value {
    ms.map_or(Value::Null, |m| Value::String(format_rfc3339(m)))
}

/// The old implementation's task status.
fn status(r: &RequestInfo) -> &'static str {
    match (r.state, r.cancel_requested.is_some()) {
        (RequestState::Finished, _) if r.result.as_deref() == Some("cancelled") => "terminated",
        (RequestState::Finished, _) => "complete",
        (_, true) => "terminating",
        (RequestState::Queued, false) => "queued",
        (RequestState::Running, false) => "running",
    }
}

/// How each node of a request stands, from its journal tasks: a failed task wins, then a
/// cancelled one, then one running, then one waiting; a node all of whose tasks succeeded
/// succeeded.
pub fn node_results(j: &Journal, r: &RequestInfo) -> Vec<Value> {
    // (rank, status, task label, error)
    let mut by_node: BTreeMap<&str, (u8, &'static str, String, Option<String>)> = BTreeMap::new();
    for id in &r.tasks {
        let Some(t) = j.tasks.get(id) else { continue };
        let Some(node) = t.node.as_deref() else {
            continue;
        };
        let (rank, st) = match t.state {
            TaskState::Failed => (5, "failed"),
            TaskState::Cancelled => (4, "cancelled"),
            TaskState::Started => (3, "running"),
            TaskState::Queued => (2, "queued"),
            TaskState::Succeeded => (1, "succeeded"),
        };
        let e = by_node
            .entry(node)
            .or_insert((0, "succeeded", String::new(), None));
        // The last task of a chain speaks for a succeeded node; otherwise the highest rank.
        if rank > e.0 || (rank == e.0 && rank == 1) {
            *e = (rank, st, t.kind.as_str().to_string(), t.error.clone());
        }
    }
    by_node
        .into_iter()
        .map(|(node, (_, st, task, error))| {
            json!({"node": node, "status": st, "task": task, "error": error})
        })
        .collect()
}

/// A task document: status, result, timings and progress counts; `full` adds the subtasks
/// (with their steps) and the per-node results.
pub fn task(j: &Journal, r: &RequestInfo, full: bool) -> Value {
    let node_filter: Value = serde_json::from_str::<Value>(&r.params)
        .ok()
        .and_then(|p| p.get("node_filter").cloned())
        .unwrap_or(Value::Null);
    // Per-node results visit every subtask: only for a finished task's successes and failures
    // and for `full`, never for what a poll of a running task reads.
    let finished = r.state == RequestState::Finished && r.result.is_some();
    let nodes = if finished || full {
        node_results(j, r)
    } else {
        Vec::new()
    };
    let result = match (&r.result, r.state) {
        (Some(res), RequestState::Finished) => {
            let pick = |want: &str| -> Vec<Value> {
                nodes
                    .iter()
                    .filter(|n| n["status"] == want)
                    .map(|n| n["node"].clone())
                    .collect()
            };
            let details: Value = r
                .details
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok())
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            json!({
                "status": match res.as_str() {
                    "cancelled" => "incomplete",
                    "success" => "success",
                    "partial_success" => "partial_success",
                    _ => "failure",
                },
                "message": r.message.clone().unwrap_or_default(),
                "successes": pick("succeeded"),
                "failures": pick("failed"),
                "details": details,
            })
        }
        _ => Value::Null,
    };
    let mut doc = json!({
        "task_id": r.id,
        "action": r.action,
        "status": status(r),
        "node_filter": node_filter,
        "created": format_rfc3339(r.queued_ms),
        "created_by": r.by,
        "started": time(r.started_ms),
        "completed": time(r.finished_ms),
        "terminated_by": r.cancel_requested,
        "result": result,
        "timings": {
            "queued_ms": r.queued_ms,
            "started_ms": r.started_ms,
            "finished_ms": r.finished_ms,
            "elapsed_ms": r.started_ms.map(|s| r.finished_ms.unwrap_or_else(crate::state::now_ms).saturating_sub(s)),
        },
    });
    // How far it is, by the state of its subtasks: counts the journal keeps as it goes, so a
    // poll visits none of them.
    let progress = r.progress;
    doc["subtask_count"] = json!(r.tasks.len());
    doc["progress"] = json!({
        "queued": progress[0],
        "started": progress[1],
        "succeeded": progress[2],
        "failed": progress[3],
        "cancelled": progress[4],
    });
    if full {
        let subtasks: Vec<Value> = r
            .tasks
            .iter()
            .filter_map(|id| j.tasks.get(id))
            .map(|t| {
                json!({
                    "task_id": t.id.0,
                    "kind": t.kind.as_str(),
                    "node": t.node,
                    "status": match t.state {
                        TaskState::Queued => "queued",
                        TaskState::Started => "started",
                        TaskState::Succeeded => "succeeded",
                        TaskState::Failed => "failed",
                        TaskState::Cancelled => "cancelled",
                    },
                    "attempts": t.attempts,
                    "started": time(t.started_ms),
                    "finished": time(t.finished_ms),
                    "error": t.error,
                    "steps": t.steps.iter().map(|(s, ms, calls)| json!({"step": s, "ms": ms, "calls": calls})).collect::<Vec<_>>(),
                })
            })
            .collect();
        doc["subtask_id_list"] = json!(r.tasks.iter().map(|t| t.0.as_str()).collect::<Vec<_>>());
        doc["subtasks"] = Value::Array(subtasks);
        doc["node_results"] = Value::Array(nodes);
    }
    doc
}

/// The old implementation's `Status` document (errors, validation results).
pub fn status_doc(code: u16, message: &str, reason: &str, details: Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1.0",
        "metadata": {},
        "status": if code < 400 { "Success" } else { "Failure" },
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    })
}

/// A node, with the old implementation's names (`hostname`, `status_name`, `power_state`)
/// beside drydock's.
pub fn node(n: &NodeView) -> Value {
    json!({
        "name": n.name,
        "hostname": n.name,
        "rack": n.rack,
        "status": n.status,
        "status_name": n.status,
        "power": n.power,
        "power_state": n.power,
        "last_task": n.last_task,
        "last_error": n.last_error,
        "unfinished": n.unfinished,
        "in_design": n.in_design,
    })
}

/// The validation document of `POST /validatedesign`: the findings as the old
/// implementation's message list, and drydock's JSON report.
pub fn validation(errors: usize, warnings: usize, report: &Value) -> (u16, Value) {
    let list: Vec<Value> = report["findings"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| {
                    let level = f["severity"].as_str().unwrap_or("error");
                    json!({
                        "message": f["message"],
                        "error": level == "error",
                        "level": match level { "error" => "Error", "warning" => "Warning", _ => "Info" },
                        "name": f["code"],
                        "diagnostic": f["help"],
                        "documents": f["documents"],
                        "location": f["location"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let code = if errors == 0 { 200 } else { 400 };
    let message = if errors == 0 {
        format!("the design is valid ({warnings} warning(s))")
    } else {
        format!("the design has {errors} error(s) and {warnings} warning(s)")
    };
    (
        code,
        status_doc(
            code,
            &message,
            "Validation",
            json!({"errorCount": errors, "warningCount": warnings, "messageList": list, "report": report}),
        ),
    )
}

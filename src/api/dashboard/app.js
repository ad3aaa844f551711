// drydock's dashboard: reads the operator API with the token given on the page, follows the
// event stream, and re-reads what changed. Everything shown is set as text, never as HTML.
"use strict";

const API = "/api/v1.0";
let token = sessionStorage.getItem("drydock-token") || "";
let refreshTimer = null;
let running = null;
let selected = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c === null || c === undefined ? "" : c);
  return e;
}

function showError(msg) {
  const p = document.getElementById("error");
  p.textContent = msg;
  p.hidden = !msg;
}

async function api(path, opts) {
  const o = Object.assign({ headers: {} }, opts || {});
  o.headers["Authorization"] = "Bearer " + token;
  if (o.body) o.headers["Content-Type"] = "application/json";
  const r = await fetch(API + path, o);
  let body = null;
  try { body = await r.json(); } catch (_) { body = null; }
  if (r.status === 401) {
    sessionStorage.removeItem("drydock-token");
    document.getElementById("main").hidden = true;
    document.getElementById("login").hidden = false;
  }
  if (!r.ok) throw new Error((body && body.message) || ("HTTP " + r.status));
  return body;
}

function fmtTime(s) {
  return s ? s.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "";
}

function renderNodes(nodes) {
  const racks = new Map();
  for (const n of nodes) {
    const r = n.rack || "(no rack)";
    if (!racks.has(r)) racks.set(r, []);
    racks.get(r).push(n);
  }
  const out = document.getElementById("racks");
  out.replaceChildren();
  for (const [rack, ns] of racks) {
    const rows = ns.map((n) => el("tr", { "data-node": n.name, "data-status": n.status },
      el("td", {}, n.name),
      el("td", { class: "status state-" + n.status }, n.status),
      el("td", {}, n.power),
      el("td", { class: "last-task" }, n.last_task ? n.last_task.kind + " " + n.last_task.state : "-"),
      el("td", {}, n.unfinished || ""),
      el("td", { class: "st-failed" }, n.last_error || "")));
    out.append(el("div", { class: "rack", "data-rack": rack },
      el("h3", {}, "Rack " + rack + " (" + ns.length + ")"),
      el("table", {}, el("thead", {}, el("tr", {}, ...["Node", "State", "Power", "Last task", "Unfinished", "Last error"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows))));
  }
}

function resultText(t) {
  return t.result ? t.result.status + ": " + t.result.message : "";
}

function renderTasks(tasks) {
  const body = document.querySelector("#tasks tbody");
  body.replaceChildren(...tasks.map((t) => {
    const tr = el("tr", { "data-task": t.task_id, "data-status": t.status },
      el("td", {}, t.task_id.slice(0, 8)),
      el("td", {}, t.action),
      el("td", { class: "status st-" + t.status }, t.status),
      el("td", { class: t.result ? "st-" + t.result.status : "" }, resultText(t)),
      el("td", {}, t.created_by),
      el("td", {}, fmtTime(t.created)));
    tr.addEventListener("click", () => { selected = t.task_id; showTask(t.task_id); });
    return tr;
  }));
}

async function showTask(id) {
  const t = await api("/tasks/" + encodeURIComponent(id) + "?subtasks=true");
  const rows = (t.node_results || []).map((n) => el("tr", { "data-node": n.node },
    el("td", {}, n.node), el("td", { class: "st-" + n.status }, n.status), el("td", {}, n.task || ""), el("td", {}, n.error || "")));
  document.getElementById("task-detail").replaceChildren(
    el("h3", {}, "Task " + t.task_id + " (" + t.action + ", " + t.status + ")"),
    el("p", {}, resultText(t)),
    el("table", {}, el("thead", {}, el("tr", {}, ...["Node", "Result", "Task", "Error"].map((h) => el("th", {}, h)))), el("tbody", {}, ...rows)));
}

function renderRunning(t) {
  const box = document.getElementById("running");
  const cancel = document.getElementById("cancel");
  if (!t) {
    box.replaceChildren("No task is running.");
    box.dataset.task = "";
    cancel.hidden = true;
    return;
  }
  const subs = t.subtasks || [];
  const done = subs.filter((s) => s.status === "succeeded").length;
  const failed = subs.filter((s) => s.status === "failed").length;
  const active = subs.filter((s) => s.status === "started").map((s) => (s.node || "site") + ": " + s.kind);
  box.dataset.task = t.task_id;
  box.replaceChildren(
    el("div", {}, el("strong", {}, t.action), " task " + t.task_id + " by " + t.created_by + ": ",
      el("span", { class: "status st-" + t.status, id: "running-status" }, t.status)),
    el("div", { class: "progress", id: "running-progress" }, done + " of " + subs.length + " subtasks done" + (failed ? ", " + failed + " failed" : "")),
    el("div", {}, active.length ? "Now: " + active.slice(0, 8).join(", ") + (active.length > 8 ? ", ..." : "") : ""));
  cancel.hidden = t.status !== "running" && t.status !== "queued";
}

function renderPlan(p) {
  const counts = {};
  for (const n of p.nodes) counts[n.action] = (counts[n.action] || 0) + 1;
  const changed = p.nodes.filter((n) => n.action !== "no_op");
  document.getElementById("plan").replaceChildren(
    el("p", { id: "plan-summary" }, Object.entries(counts).map(([a, c]) => c + " " + a).join(", ") + "; " + p.tasks.length + " tasks"),
    el("ul", {}, ...changed.slice(0, 200).map((n) => el("li", { "data-node": n.node }, n.node + ": " + n.action +
      (n.reasons.length ? " (" + n.reasons.map((r) => r.field || r.reason).join(", ") + ")" : "")))));
}

async function refresh() {
  refreshTimer = null;
  try {
    const [nodes, tasks] = await Promise.all([api("/nodes"), api("/tasks")]);
    renderNodes(nodes);
    renderTasks(tasks);
    const r = tasks.find((t) => t.status === "running" || t.status === "terminating" || t.status === "queued");
    running = r ? r.task_id : null;
    renderRunning(r ? await api("/tasks/" + encodeURIComponent(r.task_id) + "?subtasks=true") : null);
    if (selected) await showTask(selected);
    showError("");
  } catch (e) {
    showError(e.message);
  }
}

function later() {
  if (!refreshTimer) refreshTimer = setTimeout(refresh, 250);
}

async function loadPlan() {
  try { renderPlan(await api("/plan")); } catch (e) {
    document.getElementById("plan").replaceChildren(el("p", {}, "No plan: " + e.message));
  }
}

function live(line) {
  const ol = document.getElementById("live");
  ol.prepend(el("li", {}, line));
  while (ol.children.length > 50) ol.lastChild.remove();
}

// The event stream, read with fetch so that the token travels in a header.
async function follow() {
  for (;;) {
    try {
      const r = await fetch(API + "/events", { headers: { Authorization: "Bearer " + token } });
      if (!r.ok) throw new Error("the event stream answered HTTP " + r.status);
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let ev = "message", data = "";
          for (const line of chunk.split("\n")) {
            if (line.startsWith("event:")) ev = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (ev === "progress") {
            const p = JSON.parse(data);
            live((p.node || "site") + " " + p.event + " " + (p.task || "") + (p.step ? "/" + p.step : "") + (p.error ? ": " + p.error : ""));
            later();
          } else if (ev === "record") {
            const rec = JSON.parse(data);
            if (rec.event.type.startsWith("request_")) later();
            else if (/^task_(started|succeeded|failed|cancelled)$/.test(rec.event.type)) later();
            if (rec.event.type === "request_finished") loadPlan();
          } else if (ev === "lagged") {
            later();
          }
        }
      }
    } catch (e) {
      showError(e.message);
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
}

async function start() {
  try {
    const h = await (await fetch(API + "/health")).json();
    document.getElementById("instance").textContent = h.instance + " (" + h.role + ")";
    await api("/tasks");
  } catch (e) {
    showError(e.message);
    return;
  }
  document.getElementById("login").hidden = true;
  document.getElementById("main").hidden = false;
  await refresh();
  loadPlan();
  follow();
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login").addEventListener("submit", (e) => {
    e.preventDefault();
    token = document.getElementById("token").value.trim();
    sessionStorage.setItem("drydock-token", token);
    start();
  });
  document.getElementById("cancel").addEventListener("click", async () => {
    if (!running) return;
    try { await api("/tasks/" + encodeURIComponent(running), { method: "DELETE" }); later(); } catch (e) { showError(e.message); }
  });
  document.getElementById("deploy").addEventListener("click", async () => {
    try { await api("/tasks", { method: "POST", body: JSON.stringify({ action: "deploy_nodes" }) }); later(); } catch (e) { showError(e.message); }
  });
  if (token) start();
});

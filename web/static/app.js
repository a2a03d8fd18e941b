// The page's behaviour: feed buttons (POST with the CSRF token), the live state from server-sent
// events, the outcome of the last press, the history chart and table, the ledger's health.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const BOWLS = { SINGLE: "left bowl", DOUBLE: "right bowl", LONG: "both bowls" };
const MESSAGES = {
  dispensed: (p) => `Fed: ${bowlsText(p.fed_bowls)} (at ${clock(p.outcome_at)}).`,
  duplicate: () => "Duplicate: this press was already fed; nothing moved.",
  expired: () => "Expired: the command reached the feeder too late; nothing moved.",
  capped: (p) => `Capped: ${p.reason || "over the feeding cap"}; nothing moved.`,
  interrupted: () => "Interrupted: the dispense did not finish; check the bowl.",
  rejected: (p) => `Rejected by the feeder: ${p.reason || "bad command"}.`,
  unconfirmed: () => "No answer: the feeder did not confirm within the command's time to live.",
};
// Click-to-outcome times in ms (bench/web.py reads them).
window.feederTimings = [];
let waiting = null; // {id, event, clickedAt}
let lastSignature = "";
let chartTimer = null;

function $(id) { return document.getElementById(id); }
function clock(t) { return t ? new Date(t * 1000).toISOString().slice(11, 19) : "–"; }
function when(t) { return t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) : "–"; }
function bowlsText(bowls) { return bowls && bowls.length ? bowls.join(" + ") + (bowls.length > 1 ? " bowls" : " bowl") : "no bowl"; }
function ago(t, now) {
  if (!t) return "never";
  const s = Math.max(0, Math.round(now - t));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}
function show(text, outcome, id) {
  const box = $("outcome");
  box.textContent = text;
  box.dataset.outcome = outcome;
  box.dataset.pressId = id || "";
}

async function press(event, button) {
  const clickedAt = performance.now();
  button.disabled = true;
  show(`Sending: ${BOWLS[event]}…`, "pending");
  try {
    const response = await fetch("/api/press", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ event }),
      credentials: "same-origin",
    });
    const body = await response.json();
    if (!response.ok) {
      show(body.error || `Refused (${response.status}).`, "error");
      return;
    }
    waiting = { id: body.press_id, event, clickedAt };
    show(`Sent: ${BOWLS[event]}; waiting for the feeder…`, "pending", body.press_id);
  } catch (failure) {
    show("The page could not reach the server.", "error");
  } finally {
    button.disabled = false;
  }
}

function renderOutcome(state) {
  if (!waiting) return;
  const found = state.recent.find((p) => p.press_id === waiting.id);
  if (!found || found.outcome === "pending") return;
  const text = (MESSAGES[found.outcome] || (() => found.outcome))(found);
  show(text, found.outcome, found.press_id);
  window.feederTimings.push({ id: found.press_id, outcome: found.outcome, ms: performance.now() - waiting.clickedAt });
  waiting = null;
}

function renderDevice(state) {
  const d = state.device;
  const badge = $("device-status");
  badge.textContent = d.status;
  badge.dataset.status = d.status;
  badge.className = "badge badge-" + (["online", "offline"].includes(d.status) ? d.status : "unknown");
  $("device-seen").textContent = `${d.thing}, last seen ${ago(d.last_seen, state.now)}`;
  $("fact-status").textContent = `${d.status} since ${when(d.status_at)}`;
  $("fact-seen").textContent = `${when(d.last_seen)} (${ago(d.last_seen, state.now)})`;
  const number = (v) => (v === null || v === undefined ? "–" : String(v));
  $("fact-outbox").textContent = number(d.outbox_depth);
  $("fact-dropped").textContent = number(d.dropped);
  $("fact-failures").textContent = number(d.connect_failures);
  $("fact-error").textContent = d.last_error || (d.telemetry_at ? "none" : "–");
}

function renderToday(state) {
  const d = state.device;
  for (const bowl of ["left", "right"]) {
    $(`today-${bowl}`).textContent = state.today.portions[bowl];
    const cap = d.max_portions_per_day;
    const meter = $(`cap-${bowl}`);
    const used = d.portions_day ? d.portions_day[bowl] : 0;
    meter.max = cap || 1;
    meter.value = Math.min(used, cap || 1);
    $(`cap-${bowl}-text`).textContent = cap ? `${used} of ${cap} in the last 24 h (cap)` : "cap: not reported yet";
  }
}

function renderTable(state) {
  const body = document.querySelector("#presses tbody");
  const rows = state.recent.map((p) => {
    const tr = document.createElement("tr");
    tr.className = p.outcome;
    tr.dataset.pressId = p.press_id;
    const cells = [when(p.requested_at), p.event, (p.bowls || []).join(" + "),
      p.outcome + (p.reason ? ` (${p.reason})` : "") + (p.outcome === "unconfirmed" ? " – unconfirmed feed" : "")];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 3) td.className = "outcome";
      tr.appendChild(td);
    });
    return tr;
  });
  body.replaceChildren(...rows);
  const signature = state.recent.map((p) => p.press_id + p.outcome).join();
  if (signature !== lastSignature) {
    lastSignature = signature;
    clearTimeout(chartTimer);
    chartTimer = setTimeout(refreshHistory, 500);
  }
}

function refreshHistory() {
  $("chart").src = "/api/chart.png?v=" + Date.now();
}

async function refreshHealth() {
  try {
    const response = await fetch("/api/health", { credentials: "same-origin" });
    const h = await response.json();
    if (!response.ok) throw new Error(h.error);
    const v = h.verify;
    $("health-verify").textContent = v === null ? h.verify_note
      : v.ok ? `Hash chain intact: ${v.events} events verified.`
        : `Hash chain BROKEN: ${v.problems.join("; ")}`;
    $("health-verify").dataset.ok = v === null ? "" : String(v.ok);
    const gaps = Object.entries(h.gaps).map(([thing, g]) => `${thing}: ${g}`).join("; ");
    $("health-gaps").textContent = `Result seq gaps: ${gaps || "no device yet"}.`;
  } catch (failure) {
    $("health-verify").textContent = "Could not check the ledger: " + failure.message;
  }
}

function connect() {
  const source = new EventSource("/api/events");
  source.addEventListener("state", (message) => {
    const state = JSON.parse(message.data);
    if (state.error) {
      $("connection").textContent = "Live updates: " + state.error;
      return;
    }
    $("connection").textContent = `Live updates: on (${state.backend}), ${when(state.now)} UTC`;
    renderDevice(state);
    renderToday(state);
    renderTable(state);
    renderOutcome(state);
  });
  source.onerror = () => { $("connection").textContent = "Live updates: reconnecting…"; };
}

document.querySelectorAll("button[data-event]").forEach((button) => {
  button.addEventListener("click", () => press(button.dataset.event, button));
});
$("health-check").addEventListener("click", refreshHealth);
connect();
refreshHealth();

// The page's behaviour: feed buttons (POST with the CSRF token), the live state from server-sent
// events, the outcome of the last press, the week's portions and the table, the ledger's health.
// Every time is shown in the viewer's own time zone, and "today" is the viewer's day since midnight.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone;
const ZONE = TZ ? `${TZ.replace(/_/g, " ")} time` : "local time"; // e.g. "America/New York time"
const BOWL = { SINGLE: "Left", DOUBLE: "Right", LONG: "Both" };
const GESTURE = { SINGLE: "single press", DOUBLE: "double press", LONG: "long press" };
const BOWL_TEXT = { SINGLE: "left bowl", DOUBLE: "right bowl", LONG: "both bowls" };
const WORDS = {
  dispensed: "Fed", duplicate: "Already fed", expired: "Not fed: too late", capped: "Not fed: cap reached",
  interrupted: "Interrupted: check the bowl", rejected: "Not fed: refused", unconfirmed: "No answer",
  pending: "Waiting…",
};
const MESSAGES = {
  dispensed: (p) => `Fed: ${bowlsText(p.fed_bowls)} (at ${clock(p.outcome_at)}).`,
  duplicate: () => "Already fed: this press was fed before; nothing moved.",
  expired: () => "Not fed: the press reached the feeder too late; nothing moved.",
  capped: (p, state) => `Not fed: over the feeding cap for the ${bowlsText(p.bowls)}.${nextText(p.bowls, state)}`,
  interrupted: () => "Interrupted: the dispense did not finish; check the bowl.",
  rejected: () => "Not fed: the feeder refused the press.",
  unconfirmed: () => "No answer: the feeder did not confirm in time; check the bowl.",
};
const DAY_S = 86400;
const CHART_DAYS = 7;
// The device's own words (its reason) go behind the message's "Details".
// Click-to-outcome times in ms (bench/web.py reads them).
window.feederTimings = [];
let waiting = null; // {id, event, clickedAt}
let latest = null; // the last state pushed by the server
let lastSignature = "";
let weekTimer = null;

function $(id) { return document.getElementById(id); }
function plural(n, one, many) { return `${n} ${n === 1 ? one : many || one + "s"}`; }
function pad(n) { return String(n).padStart(2, "0"); }
function clock(t) {
  if (!t) return "–";
  const d = new Date(t * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function midnight(t) { const d = new Date(t * 1000); d.setHours(0, 0, 0, 0); return d.getTime() / 1000; }
function dayName(t) { return new Date(t * 1000).toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short" }); }
// A moment of today as its clock time; any other day with its date in front.
function when(t, now) {
  if (!t) return "–";
  return midnight(t) === midnight(now || Date.now() / 1000) ? clock(t) : `${dayName(t)}, ${clock(t)}`;
}
function bowlsText(bowls) { return bowls && bowls.length ? bowls.join(" + ") + (bowls.length > 1 ? " bowls" : " bowl") : "no bowl"; }
function ago(t, now) {
  if (!t) return "never";
  const s = Math.max(0, Math.round(now - t));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}
// When a portion counts, everywhere on the page: the feeder's time of the dispense, else the press's.
function portionAt(p) { return p.outcome_at || p.requested_at; }

function show(text, outcome, id, detail) {
  const box = $("outcome");
  box.dataset.outcome = outcome;
  box.dataset.pressId = id || "";
  const line = document.createElement("span");
  line.className = "message";
  line.textContent = text;
  const parts = [line];
  if (detail) {
    const more = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "Details";
    const code = document.createElement("code");
    code.textContent = detail;
    more.append(summary, code);
    parts.push(more);
  }
  box.replaceChildren(...parts);
}

function nextText(bowls, state) {
  if (!state) return "";
  const next = Math.max(0, ...(bowls || []).map((bowl) => state.cap[bowl].next_at || 0));
  return next ? ` Next portion allowed at ${when(next, state.now)}.` : "";
}

async function press(event, button) {
  const clickedAt = performance.now();
  button.disabled = true;
  show(`Sending: ${BOWL_TEXT[event]}…`, "pending");
  try {
    const response = await fetch("/api/press", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ event }),
      credentials: "same-origin",
    });
    const body = await response.json();
    if (!response.ok) {
      show(body.error || `Refused (${response.status}).`, "error", "", body.detail);
      return;
    }
    waiting = { id: body.press_id, event, clickedAt };
    show(`Sent: ${BOWL_TEXT[event]}; waiting for the feeder…`, "pending", body.press_id);
    // The answer may have come before this response did (a capped press is answered within
    // milliseconds): the state already pushed may hold it, and no other push may follow soon.
    renderOutcome(latest);
  } catch (failure) {
    show("The page lost contact with its server. Check that the computer serving it is on, then reload.",
      "error", "", String(failure));
  } finally {
    button.disabled = false;
  }
}

function renderOutcome(state) {
  if (!state) return;
  if (!waiting) {
    // Opened or reloaded: what the last press did, if there was one.
    if ($("outcome").dataset.outcome !== "") return;
    const last = state.recent[0];
    if (!last) show("No press yet.", "none");
    else {
      show(`Last press (${BOWL_TEXT[last.event] || last.event}, ${when(last.requested_at, state.now)}): `
        + `${WORDS[last.outcome] || last.outcome}.`, "last", last.press_id);
    }
    return;
  }
  const found = state.recent.find((p) => p.press_id === waiting.id);
  if (!found || found.outcome === "pending") return;
  const text = (MESSAGES[found.outcome] || (() => found.outcome))(found, state);
  show(text, found.outcome, found.press_id, found.reason);
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
  $("fact-status").textContent = `${d.status} since ${when(d.status_at, state.now)}`;
  $("fact-seen").textContent = `${when(d.last_seen, state.now)} (${ago(d.last_seen, state.now)})`;
  const number = (v) => (v === null || v === undefined ? "–" : String(v));
  $("fact-outbox").textContent = number(d.outbox_depth);
  $("fact-dropped").textContent = number(d.dropped);
  $("fact-failures").textContent = number(d.connect_failures);
  $("fact-error").textContent = d.last_error || (d.telemetry_at ? "none" : "–");
}

function meter(id, used, limit, label) {
  const m = $(id);
  m.max = limit || 1;
  m.value = Math.min(used, limit || 1);
  m.optimum = 0; // a full window is the bad end: the browser draws it in its warning colour
  m.low = m.high = m.max - 0.5;
  $(id + "-text").textContent = limit ? `${used} of ${limit} ${label}` : `${used} ${label}`;
}

function renderToday(state) {
  const since = midnight(state.now);
  const cap = state.cap;
  for (const bowl of ["left", "right"]) {
    const today = state.portions[bowl].filter((t) => t >= since).length;
    $(`today-${bowl}`).textContent = today;
    $(`today-${bowl}-unit`).textContent = today === 1 ? "portion" : "portions";
    meter(`cap-${bowl}-hour`, cap[bowl].hour, cap.per_hour, "in the last hour");
    meter(`cap-${bowl}-day`, cap[bowl].day, cap.per_day, "in the last 24 h");
    const next = cap[bowl].next_at;
    $(`next-${bowl}`).textContent = !cap.per_day ? "Cap: the feeder has not reported it yet."
      : next ? `Next portion allowed at ${when(next, state.now)} (cap reached).` : "Next portion: allowed now.";
    $(`next-${bowl}`).dataset.capped = next ? "true" : "false";
  }
  $("today-zone").textContent = `Today: since midnight, ${ZONE}. The cap counts the feeder's dispenses `
    + `in the last hour and the last 24 hours, whatever the day (at most ${cap.per_hour || "?"} an hour and `
    + `${cap.per_day || "?"} a day per bowl).`;
}

function cell(tr, text, className, detail) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  if (detail) {
    const small = document.createElement("span");
    small.className = "small detail";
    small.textContent = detail;
    td.append(document.createElement("br"), small);
  }
  tr.appendChild(td);
}

function renderTable(state) {
  const body = document.querySelector("#presses tbody");
  const rows = state.recent.map((p) => {
    const tr = document.createElement("tr");
    tr.className = p.outcome;
    tr.dataset.pressId = p.press_id;
    tr.dataset.event = p.event;
    cell(tr, when(p.requested_at, state.now), "when");
    cell(tr, BOWL[p.event] || p.event, "bowl", GESTURE[p.event]);
    cell(tr, WORDS[p.outcome] || p.outcome, "outcome", p.reason);
    return tr;
  });
  body.replaceChildren(...rows);
  const signature = state.recent.map((p) => p.press_id + p.outcome).join() + midnight(state.now);
  if (signature !== lastSignature) {
    clearTimeout(weekTimer);
    weekTimer = setTimeout(refreshWeek, lastSignature ? 500 : 0); // a burst of answers: one read
    lastSignature = signature;
  }
}

// The last CHART_DAYS local days, portions per bowl per day: bars drawn by the page itself.
async function refreshWeek() {
  const now = Date.now() / 1000;
  const first = midnight(now - (CHART_DAYS - 1) * DAY_S);
  const utcDay = (t) => new Date(t * 1000).toISOString().slice(0, 10);
  try {
    const response = await fetch(`/api/history?from=${utcDay(first)}&to=${utcDay(now)}`, { credentials: "same-origin" });
    const h = await response.json();
    if (!response.ok) throw new Error(h.error);
    const days = [];
    for (let t = first; days.length < CHART_DAYS; t = midnight(t + 1.5 * DAY_S)) {
      days.push({ start: t, left: 0, right: 0, failed: 0, unconfirmed: 0 });
    }
    for (const p of h.presses) {
      const day = days.findLast((d) => portionAt(p) >= d.start);
      if (!day) continue;
      if (p.outcome === "dispensed") (p.fed_bowls || []).forEach((bowl) => { day[bowl] += 1; });
      else if (p.outcome === "unconfirmed") day.unconfirmed += 1;
      else if (!["pending", "duplicate"].includes(p.outcome)) day.failed += 1;
    }
    drawWeek(days, now);
  } catch (failure) {
    $("week-note").textContent = "The week's portions could not be read: " + failure.message;
  }
}

function drawWeek(days, now) {
  const most = Math.max(0, ...days.flatMap((d) => [d.left, d.right]));
  const total = (key) => days.reduce((sum, d) => sum + d[key], 0);
  const rows = days.map((d) => {
    const row = document.createElement("div");
    row.className = "week-row";
    const label = document.createElement("span");
    label.className = "week-day";
    label.textContent = midnight(now) === d.start ? "Today" : dayName(d.start);
    const bars = document.createElement("span");
    bars.className = "week-bars";
    for (const bowl of ["left", "right"]) {
      const bar = document.createElement("span");
      bar.className = `bar bar-${bowl}`;
      bar.style.width = most ? `${(85 * d[bowl]) / most}%` : "0";
      const count = document.createElement("span");
      count.className = "bar-count";
      count.textContent = d[bowl] ? String(d[bowl]) : "";
      const line = document.createElement("span");
      line.className = "bar-line";
      line.append(bar, count);
      bars.appendChild(line);
    }
    const notes = [d.failed && `${d.failed} not fed`, d.unconfirmed && `${d.unconfirmed} no answer`].filter(Boolean);
    row.append(label, bars);
    if (notes.length) {
      const note = document.createElement("span");
      note.className = "small week-note";
      note.textContent = notes.join(", ");
      row.appendChild(note);
    }
    return row;
  });
  $("week").replaceChildren(...rows);
  $("week").hidden = !most && !total("failed") && !total("unconfirmed");
  const legend = [total("left") && "left bowl", total("right") && "right bowl"].filter(Boolean);
  $("week-legend").replaceChildren(...legend.map((name) => {
    const item = document.createElement("span");
    item.className = `key key-${name.split(" ")[0]}`;
    item.textContent = name;
    return item;
  }));
  $("week-note").textContent = $("week").hidden ? "No portions in the last 7 days."
    : `Portions per day, ${ZONE}: ${plural(total("left"), "portion")} in the left bowl, `
      + `${plural(total("right"), "portion")} in the right.`;
}

async function refreshHealth() {
  try {
    const response = await fetch("/api/health", { credentials: "same-origin" });
    const h = await response.json();
    if (!response.ok) throw new Error(h.error);
    const v = h.verify;
    $("health-verify").textContent = v === null ? h.verify_note
      : v.ok ? `Hash chain intact: ${plural(v.events, "event")} verified.`
        : `Hash chain BROKEN: ${v.problems.join("; ")}`;
    $("health-verify").dataset.ok = v === null ? "" : String(v.ok);
    // The hub's last signed checkpoint (cloud/hub/README.md): proof of how long the ledger was then.
    const c = h.checkpoint;
    $("health-checkpoint").textContent = !c ? ""
      : c.ok ? `Last signed checkpoint: ${plural(c.length, "event")}, ${when(c.at)}; the ledger still holds them all.`
        : `The ledger does not match its last signed checkpoint: ${c.problems.join("; ")}`;
    $("health-checkpoint").dataset.ok = c ? String(c.ok) : "";
    const gaps = Object.entries(h.gaps).map(([thing, g]) => `${thing}: ${g}`).join("; ");
    $("health-gaps").textContent = `Device answers missing from the ledger (by sequence number): ${gaps || "no device yet"}.`;
  } catch (failure) {
    $("health-verify").textContent = "Could not check the ledger: " + failure.message;
  }
}

function connection(text, detail) {
  const line = $("connection");
  line.textContent = text;
  if (detail) {
    const more = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "Details";
    more.append(summary, detail);
    line.appendChild(more);
  }
}

function connect() {
  const source = new EventSource("/api/events");
  source.addEventListener("state", (message) => {
    const state = JSON.parse(message.data);
    if (state.error) {
      connection(state.error, state.detail);
      return;
    }
    latest = state;
    connection(`Live updates: on (${state.backend}), ${clock(state.now)} ${ZONE}.`);
    renderDevice(state);
    renderToday(state);
    renderTable(state);
    renderOutcome(state);
  });
  source.onerror = () => {
    connection("Lost contact with the page's server; trying again… If this stays, check that the computer "
      + "serving this page is on.");
  };
}

// One block per bowl in Today, its parts named <part>-<bowl> (today-left, cap-left-hour, next-left…).
for (const bowl of ["left", "right"]) {
  const block = $("bowl-template").content.cloneNode(true);
  block.querySelectorAll("[data-part]").forEach((part) => {
    part.id = part.dataset.part.replace(/^(cap|today|next)/, `$1-${bowl}`);
  });
  block.querySelector(".label").textContent = `${bowl[0].toUpperCase()}${bowl.slice(1)} bowl`;
  for (const [window, words] of [["hour", "last hour against the hourly cap"], ["day", "last 24 hours against the daily cap"]]) {
    block.querySelector(`meter[data-part=cap-${window}]`).setAttribute("aria-label", `${bowl} bowl, ${words}`);
  }
  $("today-bowls").appendChild(block);
}
$("when-zone").textContent = `(${ZONE})`;
document.querySelectorAll("button[data-event]").forEach((button) => {
  button.addEventListener("click", () => press(button.dataset.event, button));
});
$("health-check").addEventListener("click", refreshHealth);
connect();
refreshHealth();

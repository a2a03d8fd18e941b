// The page's behaviour: one card per feeder of the household (feed buttons, POST with the CSRF token
// and the feeder's thing; the outcome of its last press; today and the cap; the device, its firmware and
// any update over the air; the week's portions and the table), the live state from server-sent events,
// the ledger's health. Every time is shown in the viewer's own time zone, and "today" is the viewer's
// day since midnight.
// After each render it dispatches `feeders:rendered` on document (web/README.md, "Extending the page").
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
// The household's feeders, [{thing, name}], as the server put them in the page.
const FEEDERS = JSON.parse(document.querySelector('meta[name="feeders"]').content);
const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone;
const ZONE = TZ ? `${TZ.replace(/_/g, " ")} time` : "local time"; // e.g. "America/New York time"
const BOWL = { SINGLE: "Left", DOUBLE: "Right", LONG: "Both" };
const GESTURE = { SINGLE: "single press", DOUBLE: "double press", LONG: "long press" };
const FED = { left: "Left", right: "Right", "left+right": "Both" };  // a scheduled feeding's, from its result
const BOWL_TEXT = { SINGLE: "left bowl", DOUBLE: "right bowl", LONG: "both bowls" };
const WORDS = {
  dispensed: "Fed", duplicate: "Already fed", expired: "Not fed: too late", capped: "Not fed: cap reached",
  interrupted: "Interrupted: check the bowl", rejected: "Not fed: refused", unconfirmed: "No answer",
  pending: "Waiting…",
  missed: "Missed (scheduled)", skipped: "Skipped (scheduled)", // a schedule's feedings
};
const MESSAGES = {
  dispensed: (p) => `Fed: ${bowlsText(p.fed_bowls)} (at ${clock(p.outcome_at)}).`,
  duplicate: () => "Already fed: this press was fed before; nothing moved.",
  expired: () => "Not fed: the press reached the feeder too late; nothing moved.",
  capped: (p, feeder, now) => `Not fed: over the feeding cap for the ${bowlsText(p.bowls)}.${nextText(p.bowls, feeder, now)}`,
  interrupted: () => "Interrupted: the dispense did not finish; check the bowl.",
  rejected: () => "Not fed: the feeder refused the press.",
  unconfirmed: () => "No answer: the feeder did not confirm in time; check the bowl.",
};
const DAY_S = 86400;
// An update over the air in words (the state's `update`, web/README.md), by its state; `at` is that
// state's time. A finished update is said for UPDATE_SHOWN_S, or until the next one.
const UPDATE_WORDS = {
  offered: (u, at) => `Update to ${u.version}${sizeText(u)} offered at ${at}: waiting for the feeder to start it.`,
  started: (u, at) => `Updating to ${u.version} since ${at}: downloading${sizeText(u)}, then restarting into it.`,
  succeeded: (u, at) => `Updated to ${u.version} at ${at}.`,
  // The device's reason reads "rolled back: running 1.4.0" (docs/protocol.md): its tail says what runs.
  rolled_back: (u, at) => `Update to ${u.version} rolled back at ${at}: the feeder went back to its previous `
    + `firmware (${(u.reason || "").replace(/^rolled back:?\s*/, "") || "no reason given"}).`,
  failed: (u, at) => `Update to ${u.version} failed at ${at}: ${u.reason || "no reason given"}. Nothing changed.`,
};
const UPDATE_SHOWN_S = DAY_S;
const CHART_DAYS = 7;
// The device's own words (its reason) go behind the message's "Details".
// Click-to-outcome times in ms (bench/web.py reads them).
window.feederTimings = [];
const cards = new Map(); // thing -> {el: its article, feeder: {thing, name}, waiting: {id, event, clickedAt} or null}
let latest = null; // the last state pushed by the server
let lastSignature = "";
let weekTimer = null;

function $(id) { return document.getElementById(id); }
// A part of a feeder's card: its element with data-part="name".
function part(card, name) { return card.el.querySelector(`[data-part="${name}"]`); }
// The state's entry for a card's feeder.
function feederState(state, card) { return state.feeders.find((f) => f.thing === card.feeder.thing); }
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

function show(card, text, outcome, id, detail) {
  const box = part(card, "outcome");
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

function nextText(bowls, feeder, now) {
  if (!feeder) return "";
  const next = Math.max(0, ...(bowls || []).map((bowl) => feeder.cap[bowl].next_at || 0));
  return next ? ` Next portion allowed at ${when(next, now)}.` : "";
}

async function press(card, event, button) {
  const clickedAt = performance.now();
  const { thing, name } = card.feeder;
  button.disabled = true;
  show(card, `Sending to ${name}: ${BOWL_TEXT[event]}…`, "pending");
  try {
    const response = await fetch("/api/press", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ event, thing }),
      credentials: "same-origin",
    });
    const body = await response.json();
    if (!response.ok) {
      show(card, body.error || `Refused (${response.status}).`, "error", "", body.detail);
      return;
    }
    card.waiting = { id: body.press_id, event, clickedAt };
    show(card, `Sent to ${name}: ${BOWL_TEXT[event]}; waiting for the feeder…`, "pending", body.press_id);
    // The answer may have come before this response did (a capped press is answered within
    // milliseconds): the state already pushed may hold it, and no other push may follow soon.
    if (latest) renderOutcome(card, feederState(latest, card), latest.now);
  } catch (failure) {
    show(card, "The page lost contact with its server. Check that the computer serving it is on, then reload.",
      "error", "", String(failure));
  } finally {
    button.disabled = false;
  }
}

function renderOutcome(card, feeder, now) {
  if (!feeder) return;
  const waiting = card.waiting;
  if (!waiting) {
    // Opened or reloaded, or a press from elsewhere (a button, another phone): what the last press
    // did, if there was one; never in place of the outcome of a press made here.
    if (!["", "none", "last"].includes(part(card, "outcome").dataset.outcome)) return;
    const last = feeder.recent[0];
    if (!last) show(card, "No press yet.", "none");
    else {
      show(card, `Last press (${BOWL_TEXT[last.event] || last.event || "scheduled"}, ${when(last.requested_at, now)}): `
        + `${WORDS[last.outcome] || last.outcome}.`, "last", last.press_id);
    }
    return;
  }
  const found = feeder.recent.find((p) => p.press_id === waiting.id);
  if (!found || found.outcome === "pending") return;
  const text = (MESSAGES[found.outcome] || (() => found.outcome))(found, feeder, now);
  show(card, text, found.outcome, found.press_id, found.reason);
  window.feederTimings.push({ id: found.press_id, thing: feeder.thing, outcome: found.outcome,
    ms: performance.now() - waiting.clickedAt });
  card.waiting = null;
}

function renderDevice(card, feeder, now) {
  const d = feeder.device;
  const badge = part(card, "status");
  badge.textContent = d.status;
  badge.dataset.status = d.status;
  badge.className = "badge badge-" + (["online", "offline"].includes(d.status) ? d.status : "unknown");
  part(card, "seen").textContent = `last seen ${ago(d.last_seen, now)}`;
  part(card, "fact-status").textContent = `${d.status} since ${when(d.status_at, now)}`;
  part(card, "fact-seen").textContent = `${when(d.last_seen, now)} (${ago(d.last_seen, now)})`;
  const number = (v) => (v === null || v === undefined ? "–" : String(v));
  part(card, "fact-outbox").textContent = number(d.outbox_depth);
  part(card, "fact-dropped").textContent = number(d.dropped);
  part(card, "fact-failures").textContent = number(d.connect_failures);
  part(card, "fact-error").textContent = d.last_error || (d.telemetry_at ? "none" : "–");
}

function sizeText(update) { return update.size ? ` (${Math.round(update.size / 1024)} KB)` : ""; }

function renderFirmware(card, feeder, now) {
  const d = feeder.device;
  part(card, "firmware").textContent = !d.telemetry_at ? "Firmware: not reported yet"
    : d.firmware ? `Firmware ${d.firmware}` : "Development firmware (flashed from source)";
  const u = feeder.update;
  const line = part(card, "update");
  line.hidden = !u || (!["offered", "started"].includes(u.state) && now - u.at > UPDATE_SHOWN_S);
  line.dataset.state = line.hidden ? "" : u.state;
  line.textContent = line.hidden ? "" : UPDATE_WORDS[u.state](u, when(u.at, now));
}

function meter(card, name, used, limit, label) {
  const m = part(card, name);
  m.max = limit || 1;
  m.value = Math.min(used, limit || 1);
  m.optimum = 0; // a full window is the bad end: the browser draws it in its warning colour
  m.low = m.high = m.max - 0.5;
  part(card, name + "-text").textContent = limit ? `${used} of ${limit} ${label}` : `${used} ${label}`;
}

function renderToday(card, feeder, now) {
  const since = midnight(now);
  const cap = feeder.cap;
  for (const bowl of ["left", "right"]) {
    const today = feeder.portions[bowl].filter((t) => t >= since).length;
    part(card, `today-${bowl}`).textContent = today;
    part(card, `today-${bowl}-unit`).textContent = today === 1 ? "portion" : "portions";
    meter(card, `cap-${bowl}-hour`, cap[bowl].hour, cap.per_hour, "in the last hour");
    meter(card, `cap-${bowl}-day`, cap[bowl].day, cap.per_day, "in the last 24 h");
    const next = cap[bowl].next_at;
    const line = part(card, `next-${bowl}`);
    line.textContent = !cap.per_day ? "Cap: the feeder has not reported it yet."
      : next ? `Next portion allowed at ${when(next, now)} (cap reached).` : "Next portion: allowed now.";
    line.dataset.capped = next ? "true" : "false";
  }
  part(card, "today-zone").textContent = `Today: since midnight, ${ZONE}. The cap counts the feeder's dispenses `
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

function renderTable(card, feeder, now) {
  const body = part(card, "presses").querySelector("tbody");
  const rows = feeder.recent.map((p) => {
    const tr = document.createElement("tr");
    tr.className = p.outcome;
    tr.dataset.pressId = p.press_id;
    tr.dataset.event = p.event;
    cell(tr, when(p.requested_at, now), "when");
    if (p.origin === "schedule") cell(tr, FED[(p.fed_bowls || []).join("+")] || "-", "bowl", "scheduled");
    else cell(tr, BOWL[p.event] || p.event, "bowl", GESTURE[p.event]);
    cell(tr, WORDS[p.outcome] || p.outcome, "outcome", p.reason);
    return tr;
  });
  body.replaceChildren(...rows);
}

// The week of every card, read again when a press or an outcome changed (or the day did).
function weekIfChanged(state) {
  const signature = state.feeders.flatMap((f) => f.recent.map((p) => p.press_id + p.outcome)).join()
    + midnight(state.now);
  if (signature !== lastSignature) {
    clearTimeout(weekTimer);
    weekTimer = setTimeout(refreshWeek, lastSignature ? 500 : 0); // a burst of answers: one read
    lastSignature = signature;
  }
}

// The last CHART_DAYS local days, portions per bowl per day, per feeder: bars drawn by the page itself.
async function refreshWeek() {
  const now = Date.now() / 1000;
  const first = midnight(now - (CHART_DAYS - 1) * DAY_S);
  const utcDay = (t) => new Date(t * 1000).toISOString().slice(0, 10);
  try {
    const response = await fetch(`/api/history?from=${utcDay(first)}&to=${utcDay(now)}`, { credentials: "same-origin" });
    const h = await response.json();
    if (!response.ok) throw new Error(h.error);
    for (const card of cards.values()) {
      const days = [];
      for (let t = first; days.length < CHART_DAYS; t = midnight(t + 1.5 * DAY_S)) {
        days.push({ start: t, left: 0, right: 0, failed: 0, unconfirmed: 0 });
      }
      for (const p of h.presses.filter((q) => q.thing === card.feeder.thing)) {
        const day = days.findLast((d) => portionAt(p) >= d.start);
        if (!day) continue;
        if (p.outcome === "dispensed") (p.fed_bowls || []).forEach((bowl) => { day[bowl] += 1; });
        else if (p.outcome === "unconfirmed") day.unconfirmed += 1;
        else if (!["pending", "duplicate"].includes(p.outcome)) day.failed += 1;
      }
      drawWeek(card, days, now);
    }
  } catch (failure) {
    for (const card of cards.values()) {
      part(card, "week-note").textContent = "The week's portions could not be read: " + failure.message;
    }
  }
}

function drawWeek(card, days, now) {
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
  const week = part(card, "week");
  week.replaceChildren(...rows);
  week.hidden = !most && !total("failed") && !total("unconfirmed");
  const legend = [total("left") && "left bowl", total("right") && "right bowl"].filter(Boolean);
  part(card, "week-legend").replaceChildren(...legend.map((name) => {
    const item = document.createElement("span");
    item.className = `key key-${name.split(" ")[0]}`;
    item.textContent = name;
    return item;
  }));
  part(card, "week-note").textContent = week.hidden ? "No portions in the last 7 days."
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
    for (const card of cards.values()) {
      const feeder = feederState(state, card);
      if (!feeder) continue;
      renderDevice(card, feeder, state.now);
      renderFirmware(card, feeder, state.now);
      renderToday(card, feeder, state.now);
      renderTable(card, feeder, state.now);
      renderOutcome(card, feeder, state.now);
    }
    weekIfChanged(state);
    rendered(state);
  });
  source.onerror = () => {
    connection("Lost contact with the page's server; trying again… If this stays, check that the computer "
      + "serving this page is on.");
  };
}

// Tell the page's extensions (web/README.md) that the cards show `state` (null before the first).
function rendered(state) {
  const detail = { state, cards: Object.fromEntries([...cards].map(([thing, card]) => [thing, card.el])) };
  document.dispatchEvent(new CustomEvent("feeders:rendered", { detail }));
}

// One card per feeder, article#feeder-<thing>, its parts found by data-part.
function makeCard(feeder) {
  const el = $("feeder-template").content.firstElementChild.cloneNode(true);
  el.id = `feeder-${feeder.thing}`;
  el.dataset.thing = feeder.thing;
  el.setAttribute("aria-label", `Feeder ${feeder.name}`);
  const card = { el, feeder, waiting: null };
  part(card, "name").textContent = feeder.name;
  part(card, "thing").textContent = feeder.name === feeder.thing ? "" : `(${feeder.thing})`;
  part(card, "target").textContent = `These buttons feed ${feeder.name} (${feeder.thing}) only.`;
  part(card, "when-zone").textContent = `(${ZONE})`;
  // One block per bowl in Today, its parts named <part>-<bowl> (today-left, cap-left-hour, next-left…).
  for (const bowl of ["left", "right"]) {
    const block = $("bowl-template").content.cloneNode(true);
    block.querySelectorAll("[data-part]").forEach((node) => {
      node.dataset.part = node.dataset.part.replace(/^(cap|today|next)/, `$1-${bowl}`);
    });
    block.querySelector(".label").textContent = `${bowl[0].toUpperCase()}${bowl.slice(1)} bowl`;
    for (const [window, words] of [["hour", "last hour against the hourly cap"], ["day", "last 24 hours against the daily cap"]]) {
      block.querySelector(`meter[data-part=cap-${bowl}-${window}]`).setAttribute("aria-label", `${feeder.name}, ${bowl} bowl, ${words}`);
    }
    part(card, "today-bowls").appendChild(block);
  }
  el.querySelectorAll("button[data-event]").forEach((button) => {
    button.setAttribute("aria-label", `Feed the ${BOWL_TEXT[button.dataset.event]} of ${feeder.name}`);
    button.addEventListener("click", () => press(card, button.dataset.event, button));
  });
  return card;
}

for (const feeder of FEEDERS) {
  const card = makeCard(feeder);
  cards.set(feeder.thing, card);
  $("feeders").appendChild(card.el);
}
$("household-line").textContent = FEEDERS.length === 1 ? "One feeder."
  : `${FEEDERS.length} feeders: ${FEEDERS.map((f) => f.name).join(", ")}.`;
rendered(null);
$("health-check").addEventListener("click", refreshHealth);
connect();
refreshHealth();

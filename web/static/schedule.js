// The schedule section of each feeder (web/schedules.py's API): its slots, the next feeding and the
// scheduled feedings in the household's time zone (not the viewer's: the feeder runs on the household's
// clock), and edits (POST with the CSRF token, as a press). It renders into each feeder card's
// [data-part=extensions] (article#feeder-<thing>, web/README.md "Extending the page").
"use strict";

(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const BOWLS = { SINGLE: "Left bowl", DOUBLE: "Right bowl", LONG: "Both bowls" };
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const OUTCOME = {
    dispensed: "Fed", interrupted: "Interrupted: check the bowl", missed: "Missed (feeder off or no clock)",
    skipped: "Skipped", capped: "Not fed: cap reached", duplicate: "Already fed", rejected: "Refused",
    expired: "Not fed: too late", pending: "Waiting…",
  };
  const sections = new Map(); // thing -> section element
  let lastState = null;

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  function householdTime(t, zone) {
    return new Date(t * 1000).toLocaleString("en-GB", {
      timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    });
  }

  function say(section, text, kind) {
    const line = section.querySelector("[data-part=schedule-message]");
    line.textContent = text;
    line.dataset.kind = kind;
  }

  async function post(section, thing, body) {
    say(section, "Saving…", "pending");
    try {
      const response = await fetch("/api/schedule", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ thing, ...body }),
        credentials: "same-origin",
      });
      const answer = await response.json();
      if (!response.ok) {
        say(section, answer.error || `Refused (${response.status}).`, "error");
        return;
      }
      say(section, `Saved as version ${answer.version}; sending it to the feeder…`, "ok");
      window.scheduleSaved = (window.scheduleSaved || []).concat([{ thing, version: answer.version, at: performance.now() }]);
      refresh();
    } catch (failure) {
      say(section, `The page lost contact with its server (${failure}).`, "error");
    }
  }

  function makeSection(thing) {
    const id = (part) => `schedule-${thing}-${part}`;
    const days = el("fieldset", { "data-part": "schedule-days" }, el("legend", { text: "Days" }),
      ...DAYS.map((day) => el("label", {}, el("input", { type: "checkbox", value: day, checked: "" }), ` ${day}`)));
    const form = el("form", { "data-part": "schedule-form", "aria-label": `Set a slot of ${thing}'s schedule` },
      el("label", { for: id("slot") }, "Slot "),
      el("select", { id: id("slot"), name: "slot" }, ...[0, 1, 2, 3, 4, 5, 6, 7].map((n) => el("option", { value: n, text: n }))),
      el("label", { for: id("at") }, " at "),
      el("input", { id: id("at"), name: "at", type: "time", required: "", value: "07:30" }),
      el("label", { for: id("event") }, " feed "),
      el("select", { id: id("event"), name: "event" },
        ...Object.entries(BOWLS).map(([event, text]) => el("option", { value: event, text }))),
      el("label", { for: id("portions") }, " portions "),
      el("input", { id: id("portions"), name: "portions", type: "number", min: "1", max: "4", value: "1" }),
      days,
      el("button", { type: "submit", "data-part": "schedule-save" }, "Save slot"));
    const section = el("section", { class: "schedule", "data-part": "schedule", "aria-label": `Schedule of ${thing}` },
      el("h3", { text: "Schedule" }),
      el("p", { "data-part": "schedule-status" }),
      el("p", { "data-part": "schedule-next", class: "next" }),
      el("div", { class: "table-wrap" }, el("table", { "data-part": "schedule-slots" },
        el("caption", { class: "visually-hidden", text: "The slots of the schedule" }),
        el("thead", {}, el("tr", {}, ...["Slot", "Time", "Feeds", "Portions", "Days", ""].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody"))),
      form,
      el("div", { class: "buttons" },
        el("button", { type: "button", "data-part": "schedule-pause" }, "Pause"),
        el("button", { type: "button", "data-part": "schedule-skip" }, "Skip the next feeding")),
      el("p", { "data-part": "schedule-message", role: "status", "aria-live": "polite" }),
      el("h4", { text: "Scheduled feedings" }),
      el("ul", { "data-part": "schedule-feedings" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const chosen = [...days.querySelectorAll("input:checked")].map((box) => box.value);
      post(section, thing, { action: "set", slot: {
        id: Number(form.elements.slot.value), at: form.elements.at.value, event: form.elements.event.value,
        portions: Number(form.elements.portions.value), days: chosen } });
    });
    section.querySelector("[data-part=schedule-pause]").addEventListener("click", (event) => {
      post(section, thing, { action: event.target.dataset.paused === "true" ? "resume" : "pause" });
    });
    section.querySelector("[data-part=schedule-skip]").addEventListener("click", () => post(section, thing, { action: "skip" }));
    return section;
  }

  function render(section, feeder) {
    const found = feeder.schedule;
    const reported = feeder.reported;
    const runs = reported ? `the feeder runs version ${reported.version}` : "the feeder has not reported yet";
    section.querySelector("[data-part=schedule-status]").textContent = found
      ? `Version ${feeder.version}${found.paused ? ", paused" : ""}; ${runs}${reported && reported.error ? ` (refused a newer one: ${reported.error})` : ""}. Times are ${feeder.timezone} time.`
      : `No schedule yet. Times are ${feeder.timezone} time.`;
    const next = feeder.next;
    section.querySelector("[data-part=schedule-next]").textContent = next
      ? `Next feeding: ${householdTime(next.due, feeder.timezone)} (slot ${next.slot}, ${feeder.timezone} time)`
      : "Next feeding: none scheduled";
    const pause = section.querySelector("[data-part=schedule-pause]");
    pause.textContent = found && found.paused ? "Resume" : "Pause";
    pause.dataset.paused = String(Boolean(found && found.paused));
    section.querySelector("[data-part=schedule-slots] tbody").replaceChildren(...(found ? found.slots : []).map((slot) => {
      const remove = el("button", { type: "button", "aria-label": `Remove slot ${slot.id}` }, "Remove");
      remove.addEventListener("click", () => post(section, feeder.thing, { action: "remove", slot: slot.id }));
      const skipped = found.skip.length && found.skip[0] === slot.id ? " (next one skipped)" : "";
      return el("tr", { "data-slot": slot.id }, el("td", { text: slot.id }), el("td", { text: slot.at + skipped }),
        el("td", { text: BOWLS[slot.event] }), el("td", { text: slot.portions }),
        el("td", { text: slot.days.length === 7 ? "every day" : slot.days.join(", ") }), el("td", {}, remove));
    }));
    section.querySelector("[data-part=schedule-feedings]").replaceChildren(...feeder.scheduled.map((feeding) =>
      el("li", { "data-outcome": feeding.outcome,
        text: `${householdTime(feeding.due, feeder.timezone)}: ${OUTCOME[feeding.outcome] || feeding.outcome}` })));
  }

  async function refresh() {
    let view;
    try {
      const response = await fetch("/api/schedules", { credentials: "same-origin" });
      if (!response.ok) return;
      view = await response.json();
    } catch (failure) {
      return; // the page's own connection line says when the server is gone
    }
    for (const feeder of view.feeders) {
      const card = document.getElementById(`feeder-${feeder.thing}`);
      const container = card && card.querySelector("[data-part=extensions]");
      if (!container) continue;
      if (!sections.has(feeder.thing)) {
        sections.set(feeder.thing, makeSection(feeder.thing));
        container.append(sections.get(feeder.thing));
      }
      render(sections.get(feeder.thing), feeder);
    }
  }

  // Each state the cards render (web/README.md, "Extending the page") may hold a new report or
  // scheduled feeding; the cards exist before this script runs (both scripts are deferred, app.js first).
  document.addEventListener("feeders:rendered", ({ detail }) => {
    if (detail.state !== lastState) {
      lastState = detail.state;
      refresh();
    }
  });
  refresh();
})();

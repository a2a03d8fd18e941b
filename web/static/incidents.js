// Incidents (issue 21): the household's open incidents and the last resolved ones, with notifications
// not delivered yet, from GET /api/incidents (web/incidents.py). A section of the whole household: it
// goes in #household-extensions (web/README.md, "Extending the page"), or at the end of <main> on a page
// without it. Refreshed every REFRESH_MS and whenever the page rendered a new state.
"use strict";

(() => {
  const REFRESH_MS = 5000;
  const KIND = {
    offline: "Offline", interrupted: "Interrupted dispense", capped: "Refused by the cap",
    rejected: "Command rejected", missed: "Missed scheduled feeding", lost: "Lost results",
    verify: "Ledger check failing", ingest: "Hub ingest stopped",
  };
  // What people call each feeder (the page's meta "feeders", web/README.md), else its thing name.
  const meta = document.querySelector('meta[name="feeders"]');
  const NAMES = Object.fromEntries((meta ? JSON.parse(meta.content) : []).map((f) => [f.thing, f.name]));
  NAMES.hub = "the hub";
  let busy = false;
  let last = 0;

  function element(tag, text, attributes) {
    const el = document.createElement(tag);
    if (text !== undefined) el.textContent = text;
    for (const [name, value] of Object.entries(attributes || {})) el.setAttribute(name, value);
    return el;
  }
  function moment(t) {
    return t ? new Date(t * 1000).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }) : "–";
  }

  function section() {
    let found = document.getElementById("incidents");
    if (found) return found;
    found = element("section", undefined, { id: "incidents", "aria-labelledby": "incidents-title" });
    found.append(element("h2", "Alerts", { id: "incidents-title" }));
    for (const part of ["open", "delivery", "resolved"]) {
      found.append(element("div", undefined, { "data-part": part }));
    }
    (document.getElementById("household-extensions") || document.querySelector("main")).append(found);
    return found;
  }

  function item(incident) {
    const li = element("li", undefined, { "data-kind": incident.kind, "data-state": incident.state });
    const times = incident.count > 1 ? ` (${incident.count} times)` : "";
    const name = NAMES[incident.thing] || incident.thing;
    li.append(element("strong", `${KIND[incident.kind] || incident.kind}: ${name}${times}`));
    const text = incident.state === "open"
      ? ` since ${moment(incident.opened_at)}: ${incident.last}`
      : ` ${moment(incident.opened_at)} to ${moment(incident.resolved_at)}: ${incident.resolution || ""}`;
    li.append(document.createTextNode(text));
    return li;
  }

  function list(part, title, incidents, none) {
    part.replaceChildren(element("h3", title));
    if (!incidents.length) {
      part.append(element("p", none, { class: "small" }));
      return;
    }
    const ul = element("ul");
    ul.append(...incidents.map(item));
    part.append(ul);
  }

  function render(report) {
    const box = section();
    list(box.querySelector("[data-part=open]"), "Open", report.open, "Nothing needs attention.");
    list(box.querySelector("[data-part=resolved]"), "Recently resolved", report.resolved, "None yet.");
    const delivery = box.querySelector("[data-part=delivery]");
    const dead = report.dead_letters.reduce((n, d) => n + (d.messages || 1), 0);
    const lines = [];
    if (report.pending) lines.push(`${report.pending} notification(s) not delivered yet: retrying.`);
    if (dead) lines.push(`${dead} notification(s) could not be delivered (kept in the dead letters).`);
    delivery.replaceChildren(...lines.map((line) => element("p", line, { class: "warning", role: "status" })));
  }

  async function refresh() {
    if (busy || Date.now() - last < 1000) return;
    busy = true;
    last = Date.now();
    try {
      const answer = await fetch("/api/incidents", { credentials: "same-origin" });
      if (answer.ok) render(await answer.json());
    } catch (error) {
      // The page's own connection line says when the server is away; the next refresh tries again.
    } finally {
      busy = false;
    }
  }

  document.addEventListener("feeders:rendered", refresh);
  document.addEventListener("DOMContentLoaded", () => {
    refresh();
    setInterval(refresh, REFRESH_MS);
  });
})();

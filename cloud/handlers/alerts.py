"""Alerts: incidents as a projection of the ledger, and one notification per incident opened or resolved.

A new consumer of events already in the ledger (the `alerts` rule of cloud/topology.py); no producer
knows it exists. Each feeder has one row, key `thing#<thing>` (the hub's own health: `thing#hub`),
holding what the incidents are decided from and the incidents themselves: `open` (one per kind at
most) and `resolved` (the newest RESOLVED_KEPT). One row per thing, so an event changes one row, in
one conditional write (StoreConflict: read again, as cloud/handlers/projector.py).

    kind         opens on                                folds              resolves on
    offline      status `offline` for offline_after_s    bounces (counted)  `online` held back_online_after_s
    interrupted, a result with that status (`missed`: a  more of the same   the thing's next `dispensed`
    capped,      scheduled slot's: any event whose
    rejected,    detail carries `thing` and
    missed       `status: missed`)
    lost         a result seq skipping (a gap), or       more gaps/drops    lost_quiet_s without another
                 telemetry's `dropped` growing
    verify,      (hub only, `observe_hub`) `verify`      -                  passing again / resumed
    ingest       failing; ingest stalled or stopped

The clock (offline, back online, quiet): `advance(now)` makes every transition whose time has come,
at the time the facts give (down_since + offline_after_s, ...), never at the time of the check. It runs
before each event is applied (at the event's time) and from a timer (the hub) or a schedule (AWS),
`{"check": true}`: so the incidents rebuilt from the ledger up to T and advanced to T equal the live
ones at T, whenever the timer happened to run. The hub's own incidents (verify, ingest) are not
events and are left out of a rebuild.

Notifications: a transition `opened` or `resolved` of a live event or of a check is handed to the
context's notifier before its row is written (hub: its outbox table, in the same transaction as the
row, sent by cloud/hub/alerting.py with Apprise; AWS: SNS, so a publish that fails leaves the row
unchanged and Lambda's retry of the event publishes it: at least once). `updated` (a fold) is
recorded, never sent. Replayed events (`replay-name`) update the projection and never notify, as
replays never feed.

Settings: ALERTS (compact JSON, cloud/household.py's `alert_settings`: thresholds, which kinds are
on, the feeders' names, the time zone); AWS also INCIDENTS_TABLE and ALERTS_TOPIC_ARN.
"""

import functools
import json
import os
import time
from datetime import datetime, timezone

from cloud.handlers import projector

CLIENT = "alerts"  # (store, notifier): cloud/hub/runtime.py gives the hub's
RESULT_KINDS = ("interrupted", "capped", "rejected", "missed")
HUB = "hub"
RESOLVED_KEPT = 20
DEFAULTS = {
    "offline_after_s": 600,
    "back_online_after_s": 60,
    "results": list(RESULT_KINDS),
    "lost_results": True,
    "lost_quiet_s": 3600,
    "hub": True,
}
TITLES = {
    ("offline", "opened"): "{name} is offline",
    ("offline", "resolved"): "{name} is back online",
    ("interrupted", "opened"): "{name}: a dispense was interrupted",
    ("capped", "opened"): "{name}: a feeding was refused by the cap",
    ("rejected", "opened"): "{name} rejected a command",
    ("missed", "opened"): "{name} missed a scheduled feeding",
    ("lost", "opened"): "{name} lost results",
    ("lost", "resolved"): "{name}: no more lost results",
    ("verify", "opened"): "Hub: the ledger fails its check",
    ("verify", "resolved"): "Hub: the ledger verifies again",
    ("ingest", "opened"): "Hub: ingest stopped",
    ("ingest", "resolved"): "Hub: ingest resumed",
}
RESUMED_TITLE = "{name} feeds again"  # a result incident resolved by a dispense


class Alerting:
    """The handler's client: the incidents store and where notifications go."""

    def __init__(self, store, notifier):
        self.store, self.notifier = store, notifier


class Context:
    def __init__(self, client, environ, log=print):
        self.store = client.store
        self.notifier = client.notifier
        self.settings = settings(environ.get("ALERTS"))
        self.log = log


def settings(text):
    """The ALERTS environment variable with defaults filled in (no variable: every default, no names)."""
    given = json.loads(text) if text else {}
    return {**DEFAULTS, "names": {}, "timezone": "UTC", **given}


class SnsNotifier:
    """AWS: one SNS message per transition, with its kind, thing and transition as message attributes
    (a subscription's filter policy can pick kinds)."""

    def __init__(self, sns, topic_arn):
        self.sns, self.topic_arn = sns, topic_arn

    def send(self, note):
        attributes = {
            name: {"DataType": "String", "StringValue": note[name]}
            for name in ("kind", "thing", "transition")
        }
        self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=note["title"][:99],  # Publish: "less than 100 characters", no line breaks
            Message=note["body"],
            MessageAttributes=attributes,
        )


@functools.cache
def deployed():
    """The Lambda's Context, made on the first invocation."""
    import boto3

    store = projector.DynamoStore(boto3.client("dynamodb"), os.environ["INCIDENTS_TABLE"])
    notifier = SnsNotifier(boto3.client("sns"), os.environ["ALERTS_TOPIC_ARN"])
    return Context(Alerting(store, notifier), os.environ)


def handler(event, lambda_context=None):
    return handle(event, deployed())


def handle(event, context):
    """An event of the `alerts` rule, or `{"check": true}` from the timer or schedule."""
    send = context.notifier.send
    if isinstance(event, dict) and event.get("check") is True:
        return {
            "status": "checked",
            "transitions": len(check(context.store, context.settings, time.time(), send)),
        }
    if isinstance(event, dict) and "replay-name" in event:
        return {"status": "replayed", "transitions": len(apply(context.store, context.settings, event))}
    return {"status": "applied", "transitions": len(apply(context.store, context.settings, event, send))}


def check(store, config, now, send=None):
    """The clock's transitions of every feeder the settings name. send: see _update."""
    notes = []
    for thing in sorted(set(config["names"]) - {HUB}):
        notes += _update(store, thing, lambda doc: advance(doc, config, now), send)
    return notes


def apply(store, config, event, send=None):
    """One ledger event: the clock advanced to its time, then the event's own effect. send: see _update."""
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        return []
    detail = event["detail"]
    thing = detail.get("thing")
    if not isinstance(thing, str) or thing == HUB:
        return []
    moment = detail["at"] if _is_time(detail.get("at")) else _seconds(event.get("time"))

    # A device clock ahead of the world's must not move the incidents' clock ahead (a false "offline").
    clock = min(moment, time.time())

    def change(doc):
        return advance(doc, config, clock) + _observe(doc, config, event.get("detail-type"), detail, moment)

    return _update(store, thing, change, send)


def observe_hub(store, config, kind, failing, reason, now, send=None):
    """The hub's own health (not in the ledger): `verify` or `ingest` failing or well."""
    if not config["hub"]:
        return []

    def change(doc):
        if failing and kind not in doc["open"]:
            return [_open(doc, config, kind, now, reason)]
        if not failing and kind in doc["open"]:
            return [_resolve(doc, config, kind, now, "")]
        return []

    return _update(store, HUB, change, send)


def incidents(rows):
    """(open, resolved) incidents of the store's rows, newest first."""
    opened, resolved = [], []
    for key, doc in rows:
        if key.startswith("thing#"):
            opened += doc["open"].values()
            resolved += doc["resolved"]
    newest = functools.partial(sorted, key=lambda incident: incident["updated_at"], reverse=True)
    return newest(opened), newest(resolved)


def advance(doc, config, now):
    """Every clock transition of doc due at now, at the moment the facts say it happened."""
    notes = []
    offline = doc["open"].get("offline")
    due = doc.get("down_since")
    if offline is None and due is not None and now >= due + config["offline_after_s"]:
        at = due + config["offline_after_s"]
        summary = "offline since %s (more than %s)" % (_clock(due, config), _span(config["offline_after_s"]))
        notes.append(_open(doc, config, "offline", at, summary))
    up = doc.get("up_since")
    if offline is not None and up is not None and now >= up + config["back_online_after_s"]:
        at = up + config["back_online_after_s"]
        doc["down_since"] = doc["up_since"] = None
        bounces = offline["count"] - 1
        summary = "back online since %s, offline for %s%s" % (
            _clock(up, config),
            _span(up - offline["since"]),
            " (%d more drops meanwhile)" % bounces if bounces else "",
        )
        notes.append(_resolve(doc, config, "offline", at, summary))
    lost = doc["open"].get("lost")
    if lost is not None and now >= lost["updated_at"] + config["lost_quiet_s"]:
        at = lost["updated_at"] + config["lost_quiet_s"]
        summary = "none lost for %s" % _span(config["lost_quiet_s"])
        notes.append(_resolve(doc, config, "lost", at, summary))
    return notes


def _observe(doc, config, detail_type, detail, moment):
    if detail_type == "DeviceStatus":
        return _status(doc, config, detail, moment)
    if detail_type == "DeviceTelemetry":
        return _dropped(doc, config, detail, moment)
    if detail_type == "FeedResult":
        return _result(doc, config, detail, moment)
    if detail.get("status") == "missed" and "missed" in config["results"]:
        return _fold_or_open(doc, config, "missed", moment, _result_summary(detail))
    return []


def _status(doc, config, detail, moment):
    offline = doc["open"].get("offline")
    if detail.get("status") == "online":
        doc["last_online_at"] = max(doc.get("last_online_at") or 0, moment)
        if offline is None:
            doc["down_since"] = None
        elif doc.get("up_since") is None:
            doc["up_since"] = moment
        return []
    if detail.get("status") != "offline":
        return []
    # The will of a session the device just took over arrives around its new `online`: stale (as the
    # projector's WILL_SLACK_S).
    if "at" not in detail and moment - projector.WILL_SLACK_S <= (doc.get("last_online_at") or 0):
        return []
    if offline is not None:
        if doc.get("up_since") is None:
            return []
        doc["up_since"] = None
        offline["count"] += 1
        offline["updated_at"] = moment
        return [_note(offline, _name(doc, config), "updated")]
    if doc.get("down_since") is None:
        doc["down_since"] = moment
    return []


def _result(doc, config, detail, moment):
    seq = detail.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        return []
    last = doc.get("max_seq", 0)
    restarted = False
    if seq <= last:
        # Results are sent in seq order and a re-sent one keeps its seq and its `at`: a repeat. A lower
        # seq decided later than the highest is a device counting again (its flash erased).
        if not _is_time(moment) or moment <= doc.get("max_seq_at", 0):
            return []
        restarted = True
    doc["max_seq"], doc["max_seq_at"] = seq, moment
    notes = []
    if last and seq > last + 1 and config["lost_results"] and not restarted:
        missing = seq - last - 1
        first = last + 1
        what = (
            "result %d never arrived" % first
            if missing == 1
            else "results %d-%d never arrived" % (first, seq - 1)
        )
        notes += _fold_or_open(doc, config, "lost", moment, what)
    status = detail.get("status")
    if status in config["results"]:
        notes += _fold_or_open(doc, config, status, moment, _result_summary(detail))
    elif status == "dispensed":
        for kind in RESULT_KINDS:
            incident = doc["open"].get(kind)
            if incident is not None:
                summary = "dispensed again at %s, after %d %s" % (
                    _clock(moment, config),
                    incident["count"],
                    kind if incident["count"] == 1 else kind + " in all",
                )
                notes.append(_resolve(doc, config, kind, moment, summary, RESUMED_TITLE))
    return notes


def _dropped(doc, config, detail, moment):
    dropped = detail.get("dropped")
    if not isinstance(dropped, int) or isinstance(dropped, bool) or dropped <= doc.get("dropped", 0):
        return []
    grew, doc["dropped"] = dropped - doc.get("dropped", 0), dropped
    if not config["lost_results"]:
        return []
    what = "the device dropped %d result%s while offline (outbox full)" % (grew, "" if grew == 1 else "s")
    return _fold_or_open(doc, config, "lost", moment, what)


def _result_summary(detail):
    parts = [detail.get("id") or "a command"]
    if detail.get("bowls"):
        parts.append("bowls " + ", ".join(detail["bowls"]))
    if detail.get("reason"):
        parts.append(detail["reason"])
    return ": ".join(parts)


def _fold_or_open(doc, config, kind, moment, summary):
    incident = doc["open"].get(kind)
    if incident is None:
        return [_open(doc, config, kind, moment, summary)]
    incident["count"] += 1
    incident["updated_at"] = max(incident["updated_at"], moment)
    incident["last"] = summary
    return [_note(incident, _name(doc, config), "updated")]


def _open(doc, config, kind, at, summary):
    # Numbered per thing in the order they open: unique (two may open within a second) and, as the
    # projection's order is the ledger's, the same in a rebuild.
    doc["opened"] = doc.get("opened", 0) + 1
    incident = {
        "id": "%s:%s:%d" % (kind, doc["thing"], doc["opened"]),
        "kind": kind,
        "thing": doc["thing"],
        "state": "open",
        "since": doc.get("down_since") if kind == "offline" else at,
        "opened_at": at,
        "updated_at": at,
        "resolved_at": None,
        "count": 1,
        "summary": summary,
        "last": summary,
    }
    doc["open"][kind] = incident
    return _note(incident, _name(doc, config), "opened")


def _resolve(doc, config, kind, at, summary, title=None):
    incident = doc["open"].pop(kind)
    incident.update(state="resolved", resolved_at=at, updated_at=max(incident["updated_at"], at))
    incident["resolution"] = summary
    doc["resolved"] = (doc["resolved"] + [incident])[-RESOLVED_KEPT:]
    return _note(incident, _name(doc, config), "resolved", title)


def _note(incident, name, transition, title=None):
    """What a notifier sends: a title, a body, and the incident's kind, thing and transition."""
    template = title or TITLES.get(
        (incident["kind"], transition), "{name}: %s %s" % (incident["kind"], transition)
    )
    if transition == "resolved":
        body = incident.get("resolution") or "resolved"
    elif transition == "updated":
        body = "%s (%d in all)" % (incident["last"], incident["count"])
    else:
        body = incident["summary"]
    return {
        "incident": incident["id"],
        "kind": incident["kind"],
        "thing": incident["thing"],
        "transition": transition,
        "title": template.format(name=name),
        "body": "%s: %s" % (name, body),
        "at": incident["updated_at"],
    }


def _name(doc, config):
    return "the hub" if doc["thing"] == HUB else config["names"].get(doc["thing"], doc["thing"])


def _update(store, thing, change, send=None):
    """Read the thing's row, change it, write it only if it changed; again on a conflict. Each
    transition `opened` or `resolved` goes to send (the notifier's; none for a replay or a rebuild)
    before the row is written: a send that fails leaves the row as it was, and the event's retry makes
    the transition again (at least once; the hub's outbox ignores a repeat)."""
    for _ in range(projector.CONFLICT_RETRIES):
        doc, version = store.get("thing#" + thing)
        doc = doc or {"thing": thing, "open": {}, "resolved": []}
        before = json.dumps(doc, sort_keys=True)
        notes = change(doc)
        if json.dumps(doc, sort_keys=True) == before:
            return notes
        for note in notes:
            if send is not None and note["transition"] != "updated":
                send(note)
        try:
            store.put("thing#" + thing, doc, version)
            return notes
        except projector.StoreConflict:
            continue
    raise projector.StoreConflict(
        "thing#%s kept changing under %d attempts" % (thing, projector.CONFLICT_RETRIES)
    )


def _clock(moment, config):
    """A moment as the household reads it: HH:MM in its time zone (the date when not today's)."""
    try:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(config["timezone"])
    except (ImportError, ValueError, KeyError, OSError):
        zone = timezone.utc
    return datetime.fromtimestamp(moment, zone).strftime("%Y-%m-%d %H:%M %Z")


def _span(seconds):
    seconds = int(seconds)
    if seconds < 120:
        return "%d s" % seconds
    if seconds < 7200:
        return "%d min" % (seconds // 60)
    return "%.1f h" % (seconds / 3600)


def _is_time(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _seconds(text):
    try:
        return datetime.fromisoformat(text).timestamp()
    except (TypeError, ValueError):
        return 0

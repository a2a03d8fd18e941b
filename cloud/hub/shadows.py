"""The hub's device shadows: what AWS IoT's Device Shadow service does for the named shadow `schedule`,
on the same reserved topics and with the same documents, so the firmware has one code path
(docs/protocol.md, "Schedule shadow").

- `ShadowStore` keeps each (thing, shadow name) in `shadows.sqlite3` in the hub's data folder: desired,
  reported, the document version (grows by one per accepted update) and per-key timestamps. It answers
  the schedules function (cloud/handlers/schedules.py) with boto3 iot-data's calls (`get_thing_shadow`,
  `update_thing_shadow`, and their ResourceNotFoundException / ConflictException), and publishes
  update/delta, as the service does on AWS, when an update with `desired` leaves desired keys that
  differ from reported.
- `ShadowService` answers devices on the broker: `get` -> get/accepted (the whole document) or
  get/rejected (404, AWS's code and message); `update` with `state.reported` -> stored, and the report
  into the ledger as a ScheduleReported, through the states function as AWS's topic rule on
  update/accepted does, acknowledged to the broker only after the ledger commit. A device may write only
  `reported`: an update with `desired` from the broker is refused (403), since only the cloud side sets
  desired. The hub does not publish update/accepted and update/rejected (the device uses neither; the
  broker's ACL grants the hub the topics a device reads): a refused update is a log line, never a crash.

Semantics kept from AWS (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html
and .../device-shadow-data-flow.html): an update's top-level keys replace the stored ones and `null`
deletes a key; a `version` in the request must equal the document's or the update is refused with 409;
the state document is at most 8 KB (.../device-shadow-limits: "Maximum size of a JSON state document").
"""

import io
import json
import logging
import os
import sqlite3
import threading
import time

from cloud.handlers import schedules
from cloud.hub import ledger as ledger_mod
from cloud.hub.events import LedgerEvents
from cloud.hub.ingest import acknowledging, mqtt_client, parse_payload
from cloud.hub.runtime import Runtime
from cloud.topology import SCHEDULE_CHANGED, SCHEDULE_SHADOW, SOURCE, shadow_thing, shadow_topic

log = logging.getLogger("hub")
SHADOWS_FILE = "shadows.sqlite3"
MAX_STATE_BYTES = 8 * 1024
CLIENT_ID = "cat-feeder-hub-shadows"
SCHEMA = """
CREATE TABLE IF NOT EXISTS shadows (
    thing TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (thing, name)
);
"""


class ShadowRejected(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class ConflictException(ShadowRejected):  # boto3's iot-data error names
    def __init__(self, message="Version conflict"):
        super().__init__(409, message)


class ResourceNotFoundException(ShadowRejected):
    def __init__(self, message):
        super().__init__(404, message)


class _Exceptions:
    ConflictException = ConflictException
    ResourceNotFoundException = ResourceNotFoundException


def delta_of(desired, reported):
    return {key: value for key, value in desired.items() if reported.get(key) != value}


def merge(stored, changes, now):
    """stored section + an update's section (top-level keys replace, None deletes); with its metadata."""
    values, metadata = dict(stored[0]), dict(stored[1])
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
            metadata.pop(key, None)
        else:
            values[key] = value
            metadata[key] = {"timestamp": now}
    return values, metadata


class ShadowStore:
    exceptions = _Exceptions

    def __init__(self, path, publish=None, clock=time.time):
        self.db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()
        self.publish = publish or (lambda topic, payload: None)
        self.clock = clock

    def close(self):
        self.db.close()

    def document(self, thing, name):
        """The shadow's stored document, None when it does not exist."""
        row = self.db.execute(
            "SELECT document FROM shadows WHERE thing = ? AND name = ?", (thing, name)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def full(self, stored):
        """The document as get/accepted gives it: state (desired, reported, delta), metadata, version."""
        desired, reported = stored["desired"], stored["reported"]
        state = {key: value for key, value in (("desired", desired), ("reported", reported)) if value}
        delta = delta_of(desired, reported)
        if delta:
            state["delta"] = delta
        metadata = {
            key: stored["metadata"][key] for key in ("desired", "reported") if stored["metadata"][key]
        }
        return {
            "state": state,
            "metadata": metadata,
            "version": stored["version"],
            "timestamp": int(self.clock()),
        }

    def update(self, thing, name, request, from_device):
        """Apply an update request (a dict); returns the update/accepted document. ShadowRejected."""
        state = request.get("state") if isinstance(request, dict) else None
        if not isinstance(state, dict) or not state or set(state) - {"desired", "reported"}:
            raise ShadowRejected(400, "Missing required node: state (with desired and/or reported)")
        if any(value is not None and not isinstance(value, dict) for value in state.values()):
            raise ShadowRejected(400, "Invalid JSON: desired and reported must be objects")
        if from_device and "desired" in state:
            raise ShadowRejected(403, "Forbidden: a device reports; only the cloud side sets desired")
        if len(json.dumps(state, separators=(",", ":"))) > MAX_STATE_BYTES:
            raise ShadowRejected(413, "The payload exceeds the maximum size allowed")
        now = int(self.clock())
        with self.lock:
            stored = self.document(thing, name) or {
                "desired": {},
                "reported": {},
                "metadata": {"desired": {}, "reported": {}},
                "version": 0,
            }
            if "version" in request and request["version"] != stored["version"]:
                raise ConflictException()
            accepted_meta = {}
            for section in ("desired", "reported"):
                if section in state:
                    changes = state[section]
                    if changes is None:  # "desired": null deletes the whole section
                        changes = {key: None for key in stored[section]}
                    stored[section], stored["metadata"][section] = merge(
                        (stored[section], stored["metadata"][section]), changes, now
                    )
                    accepted_meta[section] = {key: {"timestamp": now} for key in changes}
            stored["version"] += 1
            self.db.execute(
                "INSERT INTO shadows (thing, name, version, document) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (thing, name) DO UPDATE"
                " SET version = excluded.version, document = excluded.document",
                (thing, name, stored["version"], json.dumps(stored, sort_keys=True)),
            )
            accepted = {
                "state": state,
                "metadata": accepted_meta,
                "version": stored["version"],
                "timestamp": now,
            }
            delta = delta_of(stored["desired"], stored["reported"])
            if "desired" in state and delta:
                self.publish(
                    shadow_topic(thing, "update/delta"),
                    {
                        "state": delta,
                        "metadata": {key: stored["metadata"]["desired"].get(key) for key in delta},
                        "version": stored["version"],
                        "timestamp": now,
                    },
                )
        return accepted

    # boto3 iot-data's calls, for the schedules function (cloud/handlers/schedules.py)

    def get_thing_shadow(self, thingName, shadowName):  # noqa: N803 - boto3's parameter names
        stored = self.document(thingName, shadowName)
        if stored is None:
            raise ResourceNotFoundException("No shadow exists with name: '%s'" % shadowName)
        return {"payload": io.BytesIO(json.dumps(self.full(stored)).encode())}

    def update_thing_shadow(self, thingName, shadowName, payload):  # noqa: N803
        accepted = self.update(thingName, shadowName, json.loads(payload), from_device=False)
        return {"payload": io.BytesIO(json.dumps(accepted).encode())}


def restore_desired(data_dir, rows):
    """After a restore (cloud/hub/backup.py): each feeder's shadow desires its newest schedule of the
    restored projection's `schedule#` rows, through the schedules function (never an older version than
    the shadow holds), so a device asking at its next connect gets it. Returns the things written."""
    store = ShadowStore(os.path.join(data_dir, SHADOWS_FILE))
    context = schedules.Context(store, {"EVENT_SOURCE": SOURCE}, log=lambda line: None)
    written = []
    try:
        for key, row in rows:
            if key.startswith("schedule#") and row.get("changed"):
                detail = dict(row["changed"], thing=row["thing"])
                event = {"source": SOURCE, "detail-type": SCHEDULE_CHANGED, "detail": detail}
                if schedules.handle(event, context)["status"] == "desired":
                    written.append(row["thing"])
    finally:
        store.close()
    return written


class ShadowService:
    """The shadow topics on the broker, served from a ShadowStore; reports become ScheduleReported in
    the ledger (own ledger connection and states function: the ingest's batch stays its own)."""

    def __init__(self, data_dir, pki, host, port, ledger_path, topology, on_commit):
        self.client = mqtt_client(pki, "hub", CLIENT_ID, clean_session=False, manual_ack=True)
        self.store = ShadowStore(os.path.join(data_dir, SHADOWS_FILE), publish=self._publish)
        self.events = LedgerEvents()
        self.states = Runtime(topology, events=self.events)["states"]
        self.ledger = ledger_mod.Ledger(ledger_path)
        self.on_commit = on_commit
        self.host, self.port = host, port
        self.subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.on_message = acknowledging(self.handle, "shadow")

    def start(self):
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        return self

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()
        self.ledger.close()
        self.store.close()

    def _publish(self, topic, document):
        if self.client.is_connected():  # a device that missed it asks again (`get`) at its next connect
            self.client.publish(topic, json.dumps(document, separators=(",", ":")), qos=1)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("hub: broker refused the shadow service: %s", reason_code)
            return
        if flags.session_present:
            self.subscribed.set()
            return
        client.subscribe([(shadow_topic("+", "get"), 1), (shadow_topic("+", "update"), 1)])

    def handle(self, topic, payload):
        thing, suffix = shadow_thing(topic), topic.rsplit("/", 1)[-1]
        name = topic.split("/")[5]
        if name != SCHEDULE_SHADOW:
            return
        request = None
        try:
            try:
                request = parse_payload(payload) if payload else {}
            except ValueError:
                raise ShadowRejected(400, "Payload contains invalid json") from None
            if suffix == "get":
                stored = self.store.document(thing, name)
                if stored is None:
                    raise ResourceNotFoundException("No shadow exists with name: '%s'" % name)
                self._publish(shadow_topic(thing, "get/accepted"), self.store.full(stored))
                return
            accepted = self.store.update(thing, name, request, from_device=True)
        except ShadowRejected as refused:
            if suffix == "get":
                why = {"code": refused.code, "message": str(refused), "timestamp": int(time.time())}
                self._publish(shadow_topic(thing, "get/rejected"), why)
            else:
                log.warning("hub: shadow update of %s refused (%d): %s", thing, refused.code, refused)
            return
        self._report(thing, accepted)

    def _report(self, thing, accepted):
        """The topic rule cat_feeder_schedule_reported's SELECT, then the states function, then the ledger."""
        reported = accepted["state"].get("reported")
        if not reported:
            return
        message = {"v": 1, "type": "schedule", "thing": thing, "at": accepted["timestamp"]}
        message.update({key: reported[key] for key in ("version", "clock", "error") if key in reported})
        answer = self.states(message)
        if answer.get("status") == "rejected":
            log.error("hub: shadow report of %s not recorded: %s", thing, answer["reason"])
            self.ledger.append_batch(
                [], [(shadow_topic(thing, "update"), json.dumps(reported).encode(), answer["reason"])]
            )
            return
        self.ledger.append_batch(self.events.take())
        self.on_commit()
        log.info(
            "schedule %s reported version %s (clock %s)",
            thing,
            reported.get("version"),
            reported.get("clock"),
        )

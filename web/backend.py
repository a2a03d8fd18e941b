"""What the page reads and does, on either backend, through the interfaces `make press` and
`make history` use: a press is published by cloud/press.py (hub: the local broker with the publisher
certificate; AWS: iot-data), so it takes the normal path (button topic -> ledger -> feeds -> device);
the history, device status and outcomes are read from the projection cloud/history.py opens (hub:
SQLite; AWS: DynamoDB). Credentials stay in this process: nothing here returns one.

    backend = Backend(args)              # args: --aws, --data-dir, --table, --household, --pki, --broker-port
    backend.feeders                      # -> the household's feeders, in its order: [{"thing", "name"}, ...]
    backend.press("SINGLE", "kitchen")   # -> {"press_id", "event", "thing", "at", "seq"}
    backend.snapshot(now)                # -> the page's live state: per feeder, its device (and firmware),
                                         #    its latest update over the air, portions and cap, recent
                                         #    presses (cloud/history.py says whose a press is)
    backend.health()                     # -> the ledger's verify result and last checkpoint (hub), seq gaps
    backend.status()                     # -> the hub's `status --json` (cloud/hub/status.py); None on AWS
    backend.changed()                    # -> whether the projection may have changed since last asked
"""

import os
import threading

from cloud import history as history_mod
from cloud import household as household_mod
from cloud import press as press_tool
from cloud.hub import checkpoint
from cloud.hub import ledger as ledger_mod
from cloud.hub import status as status_mod
from cloud.hub.hub import LEDGER_FILE
from cloud.hub.pki import Pki
from firmware.press import EVENTS, press_id

RECENT = 20
BOWLS = history_mod.BOWLS
HOUR_S, DAY_S = 3600, 86400
# Portions sent to the page: enough for the viewer's local day (at most 25 h long) and the cap's 24 h.
PORTIONS_WINDOW_S = 26 * 3600
# What the feeder journals as begun, and so counts against its cap (firmware/cap.py).
BEGUN = ("dispensed", "interrupted")
# Seconds between two reads of the projection when the backend cannot tell a change (DynamoDB).
AWS_POLL_S = 2.0
# Seconds between two pushes of the page's state without a change: its clocks (last seen, a TTL running out).
REFRESH_S = 5.0


class BackendError(Exception):
    """A failure the user can act on: `str()` says what to do in a household's words, `detail` the
    technical cause (never a credential)."""

    def __init__(self, message, detail=""):
        super().__init__(message)
        self.detail = detail


class Backend:
    def __init__(self, args):
        self.args = args
        try:
            self.household = household_mod.load(args.household)
        except household_mod.HouseholdError as error:
            raise BackendError("--household %s: %s" % (args.household, error)) from None
        self.feeders = [
            {"thing": entry["thing"], "name": entry["name"]}
            for entry in self.household["things"] if entry["role"] == "feeder"
        ]
        self.aws = bool(args.aws)
        self.lock = threading.Lock()  # the SQLite store is shared by the server's threads
        try:
            self.store = history_mod.open_store(args, 'make web WEB_ARGS="--data-dir DIR"')
        except FileNotFoundError as error:
            raise BackendError(str(error)) from None
        self._version = None
        self._health_cache = (None, None)

    def close(self):
        history_mod.close_store(self.store)

    # Presses

    def press(self, event, thing, now=None):
        """A press of feeder `thing`'s own button (a feeder of the household, else ValueError)."""
        if event not in EVENTS:
            raise ValueError("event: expected one of %s" % ", ".join(EVENTS))
        if thing not in [feeder["thing"] for feeder in self.feeders]:
            raise ValueError("thing: expected a feeder of the household (%s), got %s"
                             % (", ".join(feeder["thing"] for feeder in self.feeders), thing))
        at, seq, message = press_tool.new_press(event, now)
        try:
            if self.aws:
                press_tool.publish_to_aws(thing, message, self.args)
            else:
                press_tool.publish_to_hub(thing, message, self.args.broker_port, self.args.pki)
        except press_tool.PressError as error:
            where = "The feeder service on AWS" if self.aws else "The feeder hub"
            raise BackendError("%s is not answering: check that it is running, then press again." % where,
                               str(error)) from None
        return {"press_id": press_id(thing, event, at, seq), "event": event, "thing": thing,
                "at": at, "seq": seq}

    # The projection

    def changed(self):
        """True when the projection may have changed since the last call (the hub: SQLite's
        data_version moves on every commit by another connection; DynamoDB: always)."""
        if self.aws:
            return True
        with self.lock:
            (version,) = self.store.db.execute("PRAGMA data_version").fetchone()
        moved, self._version = version != self._version, version
        return moved

    def rows(self):
        with self.lock:
            return list(self.store.rows())

    def history(self, now):
        """The projection as cloud/history.py reads it, with the household's routes."""
        return history_mod.History(self.rows(), now, household=self.household)

    def outcome(self, wanted_id, now):
        with self.lock:
            doc, _ = self.store.get("press#" + wanted_id)
        if doc is None:
            return None
        shown = history_mod.outcome_as_of(doc, now, history_mod.COMMAND_TTL_S)
        doc["feeder"] = history_mod.feeder_of(doc, household_mod.routes(self.household))
        return _press_view(doc, shown)

    def snapshot(self, now):
        history = self.history(now)
        devices = {d.get("thing"): d for d in history.devices}
        return {
            "now": now,
            "backend": "aws" if self.aws else "hub",
            "feeders": [
                _feeder_view(feeder, devices.get(feeder["thing"], {}),
                             [p for p in history.presses if p["feeder"] == feeder["thing"]], now)
                for feeder in self.feeders
            ],
        }

    def health(self):
        """The ledger's hash chain (the hub's `verify`; cached until the ledger grows) and the seq gaps
        the projection detected per device."""
        gaps = {
            d.get("thing"): history_mod.ranges(d.get("missing", [])) or "none"
            for d in history_mod.History(self.rows(), 0).devices
        }
        if self.aws:
            note = "AWS: the archive is EventBridge's; no hash chain to check"
            return {"verify": None, "verify_note": note, "gaps": gaps}
        path = os.path.join(self.args.data_dir, LEDGER_FILE)
        try:
            db = ledger_mod.connect(path, readonly=True)
        except ledger_mod.CorruptLedger as error:
            return {"verify": {"ok": False, "events": 0, "problems": [str(error)]}, "gaps": gaps}
        try:
            (last,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
            cached_at, cached = self._health_cache
            if cached_at != last:
                count, problems = ledger_mod.verify(db)
                cached = {"ok": not problems, "events": count, "problems": problems}
                self._health_cache = (last, cached)
            anchor = last_checkpoint(db, self.args.data_dir)
        finally:
            db.close()
        return {"verify": cached, "checkpoint": anchor, "gaps": gaps}

    def status(self):
        """The hub's health report, what `python -m cloud.hub status --json` prints (its broker on
        127.0.0.1:--broker-port, read with the hub's certificate from --pki); None on AWS."""
        if self.aws:
            return None
        try:
            return status_mod.gather(
                self.args.data_dir, Pki(self.args.pki), "127.0.0.1", self.args.broker_port
            )
        except ledger_mod.CorruptLedger as error:
            raise BackendError("The hub's ledger cannot be read: run `python -m cloud.hub verify`.",
                               str(error)) from None


def last_checkpoint(db, data_dir):
    """The newest signed checkpoint of the hub's file (cloud/hub/checkpoint.py), and whether the ledger
    reaches it; None before the first."""
    found = checkpoint.read_file(data_dir)[-1:]
    if not found or found[0][1] is None:
        return None
    problems = checkpoint.check(db, found, checkpoint.load_public_key(data_dir))
    newest = found[0][1]
    return {"length": newest.get("length"), "at": newest.get("at"), "ok": not problems, "problems": problems}


def _feeder_view(feeder, device, presses, now):
    """One feeder's part of the snapshot: its device, portions and cap, and its recent presses."""
    telemetry = device.get("telemetry") or {}
    begun = _begun(presses, now)
    return {
        "thing": feeder["thing"],
        "name": feeder["name"],
        "device": _device_view(feeder["thing"], device),
        "update": history_mod.latest_update(device),
        "portions": {bowl: [at for at, shown in begun[bowl] if shown == "dispensed"] for bowl in BOWLS},
        "cap": _cap_view(begun, now, telemetry.get("max_portions_per_hour"),
                         telemetry.get("max_portions_per_day")),
        "recent": [_press_view(p, p["shown"]) for p in reversed(presses[-RECENT:])],
    }


def _portion_at(press):
    """When a portion counts: the feeder's own time of the dispense (its result's `at`), else the press's."""
    return press.get("outcome_at") or press.get("requested_at") or 0


def _begun(presses, now):
    """{bowl: [(at, outcome), ...] oldest first}: every dispense the feeder began in the last
    PORTIONS_WINDOW_S."""
    begun = {bowl: [] for bowl in BOWLS}
    for press in presses:
        at = _portion_at(press)
        if press["shown"] in BEGUN and at > now - PORTIONS_WINDOW_S:
            for bowl in press.get("fed_bowls", []):
                begun[bowl].append((at, press["shown"]))
    for times in begun.values():
        times.sort()
    return begun


def _cap_view(begun, now, per_hour, per_day):
    """Per bowl, the feeder's rolling counts as firmware/cap.py keeps them (dispenses begun after
    now - 1 h and now - 24 h) and `next_at`: None when a portion is allowed now, else the moment the
    oldest counted one leaves the window that is full. The limits are the device's (telemetry);
    None until it reported them."""
    view = {"per_hour": per_hour, "per_day": per_day}
    for bowl, entries in begun.items():
        times = [at for at, _ in entries]
        counts, next_at = {}, None
        for name, window, limit in (("hour", HOUR_S, per_hour), ("day", DAY_S, per_day)):
            inside = [at for at in times if at > now - window]
            counts[name] = len(inside)
            if limit and len(inside) >= limit:
                free_at = inside[len(inside) - limit] + window
                next_at = max(next_at or free_at, free_at)
        view[bowl] = {**counts, "next_at": next_at}
    return view


def _press_view(press, shown):
    return {
        "press_id": press.get("press_id"),
        "thing": press.get("feeder"),
        "event": press.get("event"),
        "origin": press.get("origin"),  # "schedule": a scheduled feeding, no press
        "bowls": press.get("bowls", []),
        "requested_at": press.get("requested_at"),
        "outcome": shown,
        "outcome_at": press.get("outcome_at"),
        "fed_bowls": press.get("fed_bowls", []),
        "reason": press.get("reason"),
        "duplicates": press.get("duplicates", 0),
    }


def _device_view(thing, device):
    status = device.get("status") or {}
    telemetry = device.get("telemetry") or {}
    return {
        "thing": thing,
        "status": status.get("status", "unknown"),
        "status_at": status.get("at"),
        "last_seen": device.get("last_seen"),
        "telemetry_at": telemetry.get("at"),
        "outbox_depth": telemetry.get("outbox_depth"),
        "dropped": telemetry.get("dropped"),
        "connect_failures": telemetry.get("connect_failures"),
        "last_error": telemetry.get("last_error"),
        "firmware": telemetry.get("firmware"),  # null: a development board (or a device from before)
        "results": device.get("results", 0),
        "gaps": history_mod.ranges(device.get("missing", [])) or "none",
    }

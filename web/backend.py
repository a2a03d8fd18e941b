"""What the page reads and does, on either backend, through the interfaces `make press` and
`make history` use: a press is published by cloud/press.py (hub: the local broker with the publisher
certificate; AWS: iot-data), so it takes the normal path (button topic -> ledger -> feeds -> device);
the history, device status and outcomes are read from the projection cloud/history.py opens (hub:
SQLite; AWS: DynamoDB). Credentials stay in this process: nothing here returns one.

    backend = Backend(args)              # args: --aws, --data-dir, --table, --thing, --pki, --broker-port
    backend.press("SINGLE")              # -> {"press_id", "event", "at", "seq"}
    backend.snapshot(now)                # -> the page's live state (device, today, recent presses, gaps)
    backend.health()                     # -> the ledger's verify result (hub), seq gaps
    backend.changed()                    # -> whether the projection may have changed since last asked
"""

import os
import threading
from datetime import datetime, timezone

from cloud import history as history_mod
from cloud import press as press_tool
from cloud.hub import ledger as ledger_mod
from cloud.hub.hub import LEDGER_FILE
from firmware.press import EVENTS, press_id

RECENT = 20
BOWLS = history_mod.BOWLS
# Seconds between two reads of the projection when the backend cannot tell a change (DynamoDB).
AWS_POLL_S = 2.0


class BackendError(Exception):
    """A failure the user can act on; the message says what (never a credential)."""


class Backend:
    def __init__(self, args):
        self.args = args
        self.thing = args.thing
        self.aws = bool(args.aws)
        self.lock = threading.Lock()  # the SQLite store is shared by the server's threads
        try:
            self.store = history_mod.open_store(args)
        except FileNotFoundError as error:
            raise BackendError(str(error)) from None
        self._version = None
        self._health_cache = (None, None)

    def close(self):
        history_mod.close_store(self.store)

    # Presses

    def press(self, event, now=None):
        if event not in EVENTS:
            raise ValueError("event: expected one of %s" % ", ".join(EVENTS))
        at, seq, message = press_tool.new_press(event, now)
        try:
            if self.aws:
                press_tool.publish_to_aws(self.thing, message, self.args)
            else:
                press_tool.publish_to_hub(self.thing, message, self.args.broker_port, self.args.pki)
        except press_tool.PressError as error:
            raise BackendError(str(error)) from None
        return {"press_id": press_id(self.thing, event, at, seq), "event": event, "at": at, "seq": seq}

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

    def outcome(self, wanted_id, now):
        with self.lock:
            doc, _ = self.store.get("press#" + wanted_id)
        if doc is None:
            return None
        return _press_view(doc, history_mod.outcome_as_of(doc, now, history_mod.COMMAND_TTL_S))

    def snapshot(self, now):
        history = history_mod.History(self.rows(), now)
        today = datetime.fromtimestamp(now, tz=timezone.utc).date()
        fed_today = history.per_day(history.between(today, today)).get(today, {})
        device = next((d for d in history.devices if d.get("thing") == self.thing), {})
        return {
            "now": now,
            "backend": "aws" if self.aws else "hub",
            "device": _device_view(self.thing, device),
            "today": {
                "day": today.isoformat(),
                "portions": {bowl: fed_today.get(bowl, 0) for bowl in BOWLS},
                "failed": fed_today.get("failed", 0),
                "unconfirmed": fed_today.get("unconfirmed", 0),
            },
            "recent": [_press_view(p, p["shown"]) for p in reversed(history.presses[-RECENT:])],
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
        finally:
            db.close()
        return {"verify": cached, "gaps": gaps}


def _press_view(press, shown):
    return {
        "press_id": press.get("press_id"),
        "event": press.get("event"),
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
        "portions_day": telemetry.get("portions_day"),
        "portions_hour": telemetry.get("portions_hour"),
        "max_portions_per_day": telemetry.get("max_portions_per_day"),
        "max_portions_per_hour": telemetry.get("max_portions_per_hour"),
        "results": device.get("results", 0),
        "gaps": history_mod.ranges(device.get("missing", [])) or "none",
    }

"""Events as EventBridge delivers them, made on the hub: the envelope, the dedup key, and the
`events` client the handlers call (PutEvents into the ledger instead of onto a bus)."""

import hashlib
import json
import os
import time
import uuid
from datetime import timezone

ACCOUNT = "000000000000"
REGION = "local"


def envelope(entry):
    """The event EventBridge would build from a PutEvents entry (version 0, id, time at second precision)."""
    moment = entry["Time"].astimezone(timezone.utc)
    return {
        "version": "0",
        "id": time_ordered_id(),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": ACCOUNT,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }


def time_ordered_id(now_ns=time.time_ns):
    """A UUID version 7 (RFC 9562 5.7: 48 bits of Unix time in ms, then 74 random bits): unique as a
    version 4 is, but ordered by time, so the ledger's unique index on the event id grows at its end
    instead of every new event dirtying a random index page (an SD card's wear, bench/hub_ingest.py).
    EventBridge's ids are UUIDs too; nothing reads a version from them."""
    value = (now_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant (RFC 9562)
    return str(uuid.UUID(int=value))


def dedup_key(event):
    """Same source, type and detail = the same fact delivered twice (a QoS 1 redelivery, a re-sent
    result, a press retried): a content hash; a ScheduleChanged: its thing and version. A broker's
    `offline` last will has no time of its own, so two of them are two facts: no key."""
    detail = event["detail"]
    if event["detail-type"] == "DeviceStatus" and "at" not in detail:
        return None
    if event["detail-type"] == "ScheduleChanged":
        # One change per version of a thing's schedule: a second writer of the same version is refused
        # (cloud/schedule_tool.py), so versions only grow.
        text = "|".join((event["source"], "ScheduleChanged", str(detail.get("thing")),
                         str(detail.get("version"))))
        return hashlib.sha256(text.encode()).hexdigest()
    text = "|".join((event["source"], event["detail-type"], json.dumps(detail, sort_keys=True)))
    return hashlib.sha256(text.encode()).hexdigest()


class LedgerEvents:
    """The `events` client of the handlers on the hub: put_events collects entries for the next
    ledger commit (the ingest acknowledges the MQTT message only after that commit)."""

    def __init__(self):
        self.pending = []

    def put_events(self, Entries):  # noqa: N803 - boto3's parameter name
        results = []
        for entry in Entries:
            event = envelope(entry)
            self.pending.append((event, dedup_key(event)))
            results.append({"EventId": event["id"]})
        return {"FailedEntryCount": 0, "Entries": results}

    def take(self):
        pending, self.pending = self.pending, []
        return pending

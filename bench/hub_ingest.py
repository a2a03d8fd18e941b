"""Ingest over MQTT end to end with the hub's mosquitto settings: presses per second, and bytes
written to disk per press (what wears an SD card).

    .venv/bin/python bench/hub_ingest.py [--presses 20000] [--persistence sd-card|every-change]
                                                                (make bench runs it with the defaults)

mosquitto as `python -m cloud.hub run` starts it (persistence="sd-card", cloud/hub/broker.py) and the
hub in its own process (`python -m cloud.hub run --broker-port`); one publisher sends PRESSES
presses at QoS 1 as fast as paho lets it (1,000 in flight). Timed from the first publish until every
press is committed in the ledger; bytes counted until every rule has delivered them too (the
`feeds` rule answers each press, an hour old, `expired` without publishing; `history` projects each).

Bytes written: `write_bytes` of /proc/PID/io for the hub and for mosquitto, the bytes each process
sent (dirtied) towards the block device: the ledger's WAL and its checkpoints into the main file,
the history projection, the cursors, the checkpoint file, mosquitto's saves. `wchar` (bytes passed
to write calls) is printed beside it. The hub checkpoints its WALs rarely (cloud/hub/ledger.py,
checkpoint_rarely), so what they still hold at the end is checkpointed by this process and counted
too ("the rest of the checkpoints"): every press pays for its copy into the main files. The data
directory lives under build/ (a real file system, not a tmpfs, where write_bytes would be 0).
"""

import argparse
import json
import os
import shutil
import sqlite3
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cloud.hub.broker import PERSISTENCE, Broker  # noqa: E402
from cloud.hub.hub import HISTORY_FILE, LEDGER_FILE  # noqa: E402
from cloud.hub.ingest import mqtt_client  # noqa: E402
from cloud.hub.pki import Pki  # noqa: E402
from rigs.hubprocess import HubProcess  # noqa: E402
from rigs.proc import io_counters  # noqa: E402

PRESSES = 20000
BUTTON = "cat-feeder/cat-feeder/button"
WORKDIR = os.path.join(ROOT, "build", "bench-hub-ingest")


def count(db, sql):
    try:
        return db.execute(sql).fetchone()[0] or 0
    except sqlite3.OperationalError:  # the hub has not created the table yet
        return 0


def wait(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("bench: %s not within %.0f s" % (what, timeout_s))
        time.sleep(0.01)


def checkpoint_the_rest(data_dir):
    """(write_bytes, wchar) of this process for checkpointing both WALs into their main files."""
    before = io_counters(os.getpid())
    for name in (LEDGER_FILE, HISTORY_FILE):
        db = sqlite3.connect(os.path.join(data_dir, name))
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
        db.close()
        if busy:
            raise SystemExit("bench: the %s checkpoint was blocked" % name)
    return tuple(after - first for after, first in zip(io_counters(os.getpid()), before, strict=True))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=PRESSES)
    parser.add_argument("--persistence", default="sd-card", choices=sorted(PERSISTENCE))
    args = parser.parse_args()
    presses = args.presses
    shutil.rmtree(WORKDIR, ignore_errors=True)
    pki = Pki(os.path.join(WORKDIR, "pki")).ensure()
    data_dir = os.path.join(WORKDIR, "hub")
    broker = Broker(pki, os.path.join(data_dir, "broker"), persistence=args.persistence).start()
    hub = HubProcess(data_dir, pki, broker.port, os.path.join(WORKDIR, "hub.log"))
    try:
        hub.start()
        ledger = sqlite3.connect(os.path.join(data_dir, "ledger.sqlite3"))
        publisher = mqtt_client(pki, "device", "bench-hub-ingest")
        publisher.max_inflight_messages_set(1000)
        publisher.max_queued_messages_set(0)
        publisher.connect("127.0.0.1", broker.port)
        publisher.loop_start()
        at = int(time.time()) - 3600  # an hour old: the feeder answers "expired", nothing to publish
        payloads = [json.dumps({"v": 1, "event": "SINGLE", "at": at, "seq": seq}) for seq in range(presses)]
        hub_before, broker_before = io_counters(hub.pid), io_counters(broker.proc.pid)
        size_before = os.path.getsize(os.path.join(data_dir, "ledger.sqlite3"))
        start = time.monotonic()
        sender = threading.Thread(target=lambda: [publisher.publish(BUTTON, p, 1) for p in payloads])
        sender.start()
        wait(
            lambda: count(ledger, "SELECT MAX(seq) FROM events") >= presses, 300, "every press in the ledger"
        )
        elapsed = time.monotonic() - start
        sender.join()
        wait(lambda: count(ledger, "SELECT MIN(seq) FROM cursors") >= presses, 300, "every rule's delivery")
        hub_after, broker_after = io_counters(hub.pid), io_counters(broker.proc.pid)
        rest = checkpoint_the_rest(data_dir)
        publisher.loop_stop()
        publisher.disconnect()
        ledger.close()
    finally:
        hub.stop()
        broker.stop()
    hub_w, hub_c = (after + extra - before for after, extra, before in zip(hub_after, rest, hub_before,
                                                                            strict=True))
    broker_w, broker_c = (after - before for after, before in zip(broker_after, broker_before, strict=True))
    print(
        "command: .venv/bin/python bench/hub_ingest.py --presses %d --persistence %s"
        % (presses, args.persistence)
    )
    print(
        "ingest over MQTT end to end (mosquitto persistence %s, hub in its own process):"
        " %d presses in %.2f s = %.0f presses/s" % (args.persistence, presses, elapsed, presses / elapsed)
    )
    print(
        "written per press: %.0f bytes to disk (hub %.0f, of which the rest of the checkpoints %.0f,"
        " + mosquitto %.0f; write_bytes), %.0f bytes in"
        " write calls (hub %.0f + mosquitto %.0f; wchar); ledger file +%.0f bytes per press"
        % (
            (hub_w + broker_w) / presses,
            hub_w / presses,
            rest[0] / presses,
            broker_w / presses,
            (hub_c + broker_c) / presses,
            hub_c / presses,
            broker_c / presses,
            (os.path.getsize(os.path.join(data_dir, "ledger.sqlite3")) - size_before) / presses,
        )
    )


if __name__ == "__main__":
    main()

"""A full disk (cloud/hub/ingest.py): the ledger refusing writes stops ingest acknowledging, with one
log line and the health flag raised; presses keep arriving and the broker keeps them; when space
returns, ingest resumes on its own and every press is in the ledger once and answered.

The disk is filled without root: SQLite's max_page_count on the ingest's ledger connection makes
every write that needs a new page fail with SQLITE_FULL, the error a full disk gives."""

import json
import logging
import time

from cloud.hub import ledger as ledger_mod
from cloud.hub.hub import Hub
from cloud.topology import THING, action_topic, states_topic

BUTTON = "cat-feeder/cat-feeder/button"
BOWLS = {"SINGLE": ["left"], "DOUBLE": ["right"], "LONG": ["left", "right"]}


def ledger_ids(hub, detail_type, field):
    db = ledger_mod.connect(hub.ledger_path, readonly=True)
    try:
        return [e["detail"][field] for _, e in ledger_mod.read(db) if e["detail-type"] == detail_type]
    finally:
        db.close()


def press(device, seq):
    click = ("SINGLE", "DOUBLE", "LONG")[seq % 3]
    device.publish(BUTTON, json.dumps({"v": 1, "event": click, "at": int(time.time()), "seq": seq}), 1)


def answer_commands(device, expected, timeout_s=30):
    """What the feeder does: one result per command, until `expected` commands came."""
    answered = []
    deadline = time.monotonic() + timeout_s
    while len(answered) < expected and time.monotonic() < deadline:
        message = device.receive(0.5)
        if message is None:
            continue
        command = json.loads(message[1])
        answered.append(command["id"])
        result = {
            "v": 1,
            "type": "result",
            "thing": "cat-feeder",
            "seq": len(answered),
            "id": command["id"],
            "status": "dispensed",
            "bowls": BOWLS[command["event"]],
            "at": int(time.time()),
        }
        device.publish(states_topic(THING), json.dumps(result), 1)
    return answered


def test_a_full_disk_stops_acks_and_resumes_without_losing_a_press(pki, broker, mqtt, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="hub")
    hub = Hub(str(tmp_path / "hub"), pki, "127.0.0.1", broker.port).start()
    try:
        device = mqtt("device", client_id="cat-feeder")
        assert device.subscribe(action_topic(THING), 1) == 1
        press(device, 0)
        assert len(answer_commands(device, 1)) == 1
        (pages,) = hub.ledger.db.execute("PRAGMA page_count").fetchone()
        hub.ledger.db.execute("PRAGMA max_page_count = %d" % pages)  # the disk is full
        for seq in range(1, 21):
            press(device, seq)
        deadline = time.monotonic() + 10
        while hub.ingest.stalled is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "full" in hub.ingest.stalled
        assert "full" in hub.health.report()["ingest_stalled"]  # what `status` reads from the broker
        for seq in range(21, 31):  # presses keep arriving while it is full
            press(device, seq)
        time.sleep(2.5)  # two more retries, still failing
        stalled_at = len(ledger_ids(hub, "FeedRequested", "press_id"))
        assert stalled_at < 31
        refusals = [r for r in caplog.records if "the ledger refuses writes" in r.getMessage()]
        assert len(refusals) == 1 and "ingest stopped acknowledging" in refusals[0].getMessage()

        hub.ledger.db.execute("PRAGMA max_page_count = 1073741823")  # space returns
        answered = answer_commands(device, 31 - 1, timeout_s=30)
        pressed = ledger_ids(hub, "FeedRequested", "press_id")
        assert len(pressed) == len(set(pressed)) == 31
        assert sorted(answered) == sorted(pressed[1:])
        deadline = time.monotonic() + 10
        while len(ledger_ids(hub, "FeedResult", "id")) < 31 and time.monotonic() < deadline:
            time.sleep(0.05)
        results = ledger_ids(hub, "FeedResult", "id")
        assert sorted(results) == sorted(pressed)
        assert hub.ingest.stalled is None
        assert any("ingest resumed" in r.getMessage() for r in caplog.records)
    finally:
        hub.stop()

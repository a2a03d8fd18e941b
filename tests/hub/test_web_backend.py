"""web/backend.py on a hub projection written by the projector: a press the device never answered is
`pending` within its TTL and `unconfirmed` after it; today counts only dispensed portions; the device
row carries the last status and telemetry; the health check reads the ledger's chain."""

import argparse

from cloud.handlers.projector import project
from cloud.hub import checkpoint
from cloud.hub import ledger as ledger_mod
from cloud.hub.hub import HISTORY_FILE, LEDGER_FILE
from cloud.hub.projection import SqliteStore
from cloud.topology import COMMAND_TTL_S
from tests.hub.hubdata import press_event
from web.backend import Backend, BackendError

NOW = 1_796_000_000  # 2026-12-01 ... UTC


def backend_on(folder, events):
    store = SqliteStore(str(folder / HISTORY_FILE))
    for event in events:
        project(store, event)
    store.close()
    args = argparse.Namespace(
        aws=False, data_dir=str(folder), thing="cat-feeder", pki="", broker_port=1, table=""
    )
    return Backend(args)


def press(press_id, event, at):
    return {
        "detail-type": "FeedRequested",
        "detail": {"press_id": press_id, "event": event, "pressed_at": at, "button": "cat-feeder"},
    }


def result(press_id, seq, status, bowls, at, **extra):
    detail = {
        "type": "result",
        "thing": "cat-feeder",
        "seq": seq,
        "id": press_id,
        "status": status,
        "bowls": bowls,
        "at": at,
        **extra,
    }
    return {"detail-type": "FeedResult", "detail": detail}


def test_unanswered_presses_turn_unconfirmed_after_the_ttl(tmp_path):
    backend = backend_on(
        tmp_path,
        [
            press("press-000000000000000a", "SINGLE", NOW - 30),
            result("press-000000000000000a", 1, "dispensed", ["left"], NOW - 29),
            press("press-000000000000000b", "LONG", NOW - 20),
            result("press-000000000000000b", 3, "capped", [], NOW - 19, reason="cap: left bowl has had 1"),
            press("press-000000000000000c", "DOUBLE", NOW - 10),
            {
                "detail-type": "DeviceTelemetry",
                "detail": {
                    "type": "telemetry",
                    "thing": "cat-feeder",
                    "outbox_depth": 2,
                    "dropped": 1,
                    "last_error": "tcp: refused",
                    "max_portions_per_day": 12,
                    "at": NOW - 5,
                },
            },
            {
                "detail-type": "DeviceStatus",
                "detail": {"type": "status", "thing": "cat-feeder", "status": "online", "at": NOW - 100},
            },
        ],
    )
    try:
        state = backend.snapshot(NOW)
        assert [(p["press_id"][-1], p["outcome"]) for p in state["recent"]] == [
            ("c", "pending"),
            ("b", "capped"),
            ("a", "dispensed"),
        ]
        assert state["today"]["portions"] == {"left": 1, "right": 0}
        device = state["device"]
        assert (device["status"], device["outbox_depth"], device["dropped"], device["last_error"]) == (
            "online",
            2,
            1,
            "tcp: refused",
        )
        assert device["gaps"] == "2"  # seq 2 never arrived
        later = backend.snapshot(NOW - 10 + COMMAND_TTL_S + 1)
        assert later["recent"][0]["outcome"] == "unconfirmed"
        assert backend.outcome("press-000000000000000c", NOW)["outcome"] == "pending"
        assert backend.outcome("press-00000000000000ff", NOW) is None
    finally:
        backend.close()


def test_health_reads_the_ledger_chain_and_a_missing_history_is_a_clear_error(tmp_path):
    ledger = ledger_mod.Ledger(str(tmp_path / LEDGER_FILE))
    ledger.close()
    backend = backend_on(tmp_path, [])
    try:
        health = backend.health()
        assert health["verify"] == {"ok": True, "events": 0, "problems": []} and health["gaps"] == {}
        assert health["checkpoint"] is None  # none taken yet
    finally:
        backend.close()
    args = argparse.Namespace(aws=False, data_dir=str(tmp_path / "nowhere"), thing="cat-feeder", table="")
    try:
        Backend(args)
    except BackendError as refused:
        assert "no hub history" in str(refused) and "make hub" in str(refused)
    else:
        raise AssertionError("a missing hub history was accepted")


def test_health_shows_the_last_checkpoint_and_whether_the_ledger_reaches_it(tmp_path):
    ledger = ledger_mod.Ledger(str(tmp_path / LEDGER_FILE))
    ledger.append_batch([(press_event(n), None) for n in range(3)])
    key = checkpoint.load_or_create_key(str(tmp_path))
    checkpoint.append(str(tmp_path), checkpoint.sign(key, *checkpoint.ledger_head(ledger.db), NOW))
    ledger.close()
    backend = backend_on(tmp_path, [])
    try:
        assert backend.health()["checkpoint"] == {"length": 3, "at": NOW, "ok": True, "problems": []}
        checkpoint.append(str(tmp_path), checkpoint.sign(key, 5, "f" * 64, NOW + 60))  # events lost since
        anchor = backend.health()["checkpoint"]
        assert anchor["length"] == 5 and not anchor["ok"]
        assert "the ledger ends at seq 3" in anchor["problems"][0]
    finally:
        backend.close()

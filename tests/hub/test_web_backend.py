"""web/backend.py on a hub projection written by the projector, per feeder of the household: a press the
device never answered is `pending` within its TTL and `unconfirmed` after it; portions are the dispensed
ones, at the device's time; the cap's rolling counts and when the next portion is allowed follow
firmware/cap.py; the device row carries the last status and telemetry; a remote button's presses are
its feeder's; the health check reads the ledger's chain."""

import argparse
import json

from cloud.handlers.projector import project
from cloud.hub import checkpoint
from cloud.hub import ledger as ledger_mod
from cloud.hub.hub import HISTORY_FILE, LEDGER_FILE
from cloud.hub.projection import SqliteStore
from cloud.topology import COMMAND_TTL_S
from rigs.hubdata import press_event
from web.backend import Backend, BackendError

NOW = 1_796_000_000  # 2026-12-01 ... UTC


def backend_on(folder, events, household=None):
    """The backend on the projection of `events`, for the household (default: no file, one feeder)."""
    store = SqliteStore(str(folder / HISTORY_FILE))
    for event in events:
        project(store, event)
    store.close()
    path = folder / "household.json"
    if household is not None:
        path.write_text(json.dumps(household))
    args = argparse.Namespace(
        aws=False, data_dir=str(folder), household=str(path), pki="", broker_port=1, table=""
    )
    return Backend(args)


def only_feeder(snapshot):
    (feeder,) = snapshot["feeders"]
    assert feeder["thing"] == "cat-feeder"
    return feeder


def press(press_id, event, at, button="cat-feeder"):
    return {
        "detail-type": "FeedRequested",
        "detail": {"press_id": press_id, "event": event, "pressed_at": at, "button": button},
    }


def result(press_id, seq, status, bowls, at, thing="cat-feeder", **extra):
    detail = {
        "type": "result",
        "thing": thing,
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
        state = only_feeder(backend.snapshot(NOW))
        assert [(p["press_id"][-1], p["outcome"]) for p in state["recent"]] == [
            ("c", "pending"),
            ("b", "capped"),
            ("a", "dispensed"),
        ]
        assert state["portions"] == {"left": [NOW - 29], "right": []}
        device = state["device"]
        assert (device["status"], device["outbox_depth"], device["dropped"], device["last_error"]) == (
            "online",
            2,
            1,
            "tcp: refused",
        )
        assert device["gaps"] == "2"  # seq 2 never arrived
        later = only_feeder(backend.snapshot(NOW - 10 + COMMAND_TTL_S + 1))
        assert later["recent"][0]["outcome"] == "unconfirmed"
        assert backend.outcome("press-000000000000000c", NOW)["outcome"] == "pending"
        assert backend.outcome("press-00000000000000ff", NOW) is None
    finally:
        backend.close()


def telemetry(at, **fields):
    detail = {"type": "telemetry", "thing": "cat-feeder", "at": at, **fields}
    return {"detail-type": "DeviceTelemetry", "detail": detail}


def test_the_cap_counts_dispenses_begun_in_the_last_hour_and_day_and_when_the_next_is_allowed(tmp_path):
    answers = [  # (press id, event, pressed at, outcome, bowls)
        ("01", "LONG", NOW - 90_000, "dispensed", ["left", "right"]),  # older than 24 h: counts for neither
        ("02", "DOUBLE", NOW - 80_000, "dispensed", ["right"]),
        ("03", "DOUBLE", NOW - 50_000, "interrupted", ["right"]),  # begun: the feeder counts it
        ("04", "SINGLE", NOW - 3_000, "dispensed", ["left"]),
        ("05", "LONG", NOW - 1_000, "capped", []),
        ("06", "SINGLE", NOW - 900, "dispensed", ["left"]),
        ("07", "DOUBLE", NOW - 100, "dispensed", ["right"]),
    ]
    events = [telemetry(NOW - 5, max_portions_per_hour=2, max_portions_per_day=3)]
    for seq, (suffix, event, at, status, bowls) in enumerate(answers, 1):
        press_id = "press-00000000000000" + suffix
        events += [press(press_id, event, at), result(press_id, seq, status, bowls, at + 1)]
    backend = backend_on(tmp_path, events)
    try:
        state = only_feeder(backend.snapshot(NOW))
    finally:
        backend.close()
    # Food that dropped, at the device's time, for the page's "today" (the viewer's day: within 26 h).
    assert state["portions"] == {
        "left": [NOW - 89_999, NOW - 2_999, NOW - 899],
        "right": [NOW - 89_999, NOW - 79_999, NOW - 99],
    }
    assert state["cap"] == {
        "per_hour": 2,
        "per_day": 3,
        # Two in the hour: the older leaves the hour at its time + 1 h.
        "left": {"hour": 2, "day": 2, "next_at": NOW - 2_999 + 3600},
        # Three in 24 h (the interrupted one too): the oldest leaves the day at its time + 24 h.
        "right": {"hour": 1, "day": 3, "next_at": NOW - 79_999 + 86_400},
    }


def test_a_press_that_cannot_go_out_says_so_in_a_households_words_with_the_cause_as_detail(tmp_path):
    backend = backend_on(tmp_path, [])
    backend.args.pki = str(tmp_path / "no-pki")
    try:
        backend.press("SINGLE", "cat-feeder")
    except BackendError as refused:
        assert str(refused) == "The feeder hub is not answering: check that it is running, then press again."
        assert "no publisher certificate" in refused.detail
    else:
        raise AssertionError("a press without a hub went out")
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
    args = argparse.Namespace(aws=False, data_dir=str(tmp_path / "nowhere"), household=str(tmp_path / "none"),
                              table="")
    try:
        Backend(args)
    except BackendError as refused:
        assert "no hub history" in str(refused) and "make hub" in str(refused)
        assert str(refused).endswith('(make web WEB_ARGS="--data-dir DIR")')  # the page's own variable
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


def test_each_feeder_of_the_household_has_its_presses_device_and_portions(tmp_path):
    household = {"things": [{"thing": "cat-feeder", "name": "Kitchen"},
                            {"thing": "feeder-b", "name": "Bedroom"},
                            {"thing": "hall", "role": "button", "feeds": "feeder-b"}]}
    events = [
        press("press-000000000000000a", "SINGLE", NOW - 30),
        result("press-000000000000000a", 1, "dispensed", ["left"], NOW - 29),
        press("press-000000000000000b", "DOUBLE", NOW - 20, button="hall"),
        result("press-000000000000000b", 1, "dispensed", ["right"], NOW - 19, thing="feeder-b"),
        press("press-000000000000000c", "LONG", NOW - 10, button="hall"),  # not answered yet
        telemetry(NOW - 5, max_portions_per_hour=4, max_portions_per_day=12),
    ]
    backend = backend_on(tmp_path, events, household)
    try:
        assert [f["thing"] for f in backend.feeders] == ["cat-feeder", "feeder-b"]  # buttons are no feeders
        kitchen, bedroom = backend.snapshot(NOW)["feeders"]
        try:
            backend.press("SINGLE", "hall")
        except ValueError as refused:
            said = "thing: expected a feeder of the household (cat-feeder, feeder-b), got hall"
            assert str(refused) == said
        else:
            raise AssertionError("a press for a button went out")
    finally:
        backend.close()
    assert (kitchen["name"], bedroom["name"]) == ("Kitchen", "Bedroom")
    assert [p["press_id"][-1] for p in kitchen["recent"]] == ["a"]
    # The hall button's presses are Bedroom's: the one it answered, and the one it has not yet.
    assert [(p["press_id"][-1], p["thing"], p["outcome"]) for p in bedroom["recent"]] == [
        ("c", "feeder-b", "pending"), ("b", "feeder-b", "dispensed")]
    assert (kitchen["portions"], bedroom["portions"]) == (
        {"left": [NOW - 29], "right": []}, {"left": [], "right": [NOW - 19]})
    assert (kitchen["cap"]["per_day"], bedroom["cap"]["per_day"]) == (12, None)  # only Kitchen reported it
    assert bedroom["device"]["thing"] == "feeder-b" and bedroom["device"]["results"] == 1

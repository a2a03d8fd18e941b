"""Projector rules that the generated histories do not pin down: a last will around a reconnect, gaps
filled by late results, and a result before its press."""

import json
from datetime import datetime, timezone

from cloud.handlers import projector
from cloud.hub.events import envelope
from cloud.hub.projection import SqliteStore
from cloud.topology import DEVICE_SOURCE
from rigs.hubdata import T0, press_event, result_event, status_event


def will(arrived):
    detail = {"v": 1, "type": "status", "thing": "cat-feeder", "status": "offline"}
    return envelope(
        {
            "Source": DEVICE_SOURCE,
            "DetailType": "DeviceStatus",
            "Detail": json.dumps(detail),
            "Time": datetime.fromtimestamp(arrived, tz=timezone.utc),
        }
    )


def status_after(tmp_path, *events):
    store = SqliteStore(str(tmp_path / ("h%d.sqlite3" % len(list(tmp_path.iterdir())))))
    for event in events:
        projector.project(store, event)
    device = store.get("device#cat-feeder")[0]
    store.close()
    return device["status"]["status"]


def test_a_last_will_around_a_reconnect_does_not_hide_the_online_device(tmp_path):
    assert status_after(tmp_path, status_event("online", T0), will(T0 + 1)) == "online"
    assert status_after(tmp_path, will(T0 + 2), status_event("online", T0 + 1)) == "online"
    assert status_after(tmp_path, status_event("online", T0), will(T0 + 60)) == "offline"
    assert status_after(tmp_path, will(T0 + 60), status_event("online", T0)) == "offline"


def test_gaps_are_filled_by_late_results_and_a_result_may_precede_its_press(tmp_path):
    store = SqliteStore(str(tmp_path / "h.sqlite3"))
    press = press_event(1)
    press_id = press["detail"]["press_id"]
    for event in (
        result_event(1, "x", "dispensed", T0, ["left"]),
        result_event(4, press_id, "expired", T0 + 3),
        press,
        result_event(3, "y", "duplicate", T0 + 2),
    ):
        projector.project(store, event)
    device, row = store.get("device#cat-feeder")[0], store.get("press#" + press_id)[0]
    assert device["missing"] == [2] and device["max_seq"] == 4 and device["results"] == 3
    assert row["outcome"] == "expired" and row["event"] == press["detail"]["event"] and row["requested_at"]


def test_a_capped_press_fed_on_a_later_delivery_shows_dispensed_and_a_duplicate_never_replaces(tmp_path):
    store = SqliteStore(str(tmp_path / "h.sqlite3"))
    press = press_event(1)
    press_id = press["detail"]["press_id"]
    for event in (
        press,
        result_event(1, press_id, "capped", T0 + 1, reason="feeding cap"),
        result_event(2, press_id, "dispensed", T0 + 60, ["left"]),
        result_event(3, press_id, "duplicate", T0 + 70),
        result_event(4, press_id, "expired", T0 + 400),
    ):
        projector.project(store, event)
    row = store.get("press#" + press_id)[0]
    assert (row["outcome"], row["outcome_at"], row["fed_bowls"], row["duplicates"]) == (
        "dispensed",
        T0 + 60,
        ["left"],
        1,
    )

"""Updates over the air in the history (issue 23): the projector folds each job's ledger events into its
feeder's device row (in any order: tests/cloud/test_cloud_projection_order.py); cloud/history.py reads
the latest update and the firmware that fed when; the page's state (web/backend.py) carries both and the
firmware of the last telemetry; a ledger from before updates, and telemetry without `firmware`, read as
the base set; a rebuild to T shows the update as it stood at T."""

from cloud import history as history_mod
from cloud.handlers import projector
from cloud.hub.events import dedup_key
from cloud.hub.hydrate import hydrate
from cloud.hub.ledger import Ledger
from cloud.hub.projection import SqliteStore
from rigs.hubdata import T0, press_event, result_event, status_event, update_event
from tests.hub.test_web_backend import backend_on, only_feeder

OFFERED = update_event("UpdateOffered", T0 + 10, size=67_584)
STARTED = update_event("UpdateStarted", T0 + 20)
SUCCEEDED = update_event("UpdateSucceeded", T0 + 90)
ROLLED_BACK = update_event("UpdateRolledBack", T0 + 900, "1.6.0", "ota-1_6_0-2",
                           reason="rolled back: running 1.5.0")
NEWER_OFFERED = update_event("UpdateOffered", T0 + 800, "1.6.0", "ota-1_6_0-2", size=70_000)


def telemetry(at, **fields):
    event = status_event("online", at)
    detail = dict({"v": 1, "type": "telemetry", "thing": "cat-feeder", "at": at}, **fields)
    return dict(event, **{"detail-type": "DeviceTelemetry", "detail": detail})


def device_row(events):
    store = SqliteStore(":memory:")
    for event in events:
        projector.project(store, event)
    row, _ = store.get("device#cat-feeder")
    store.close()
    return row


def test_an_update_reads_offered_then_started_then_succeeded():
    seen = []
    for step in range(1, 4):
        update = history_mod.latest_update(device_row([OFFERED, STARTED, SUCCEEDED][:step]))
        seen.append((update["state"], update["at"]))
        assert (update["job"], update["version"], update["size"], update["offered_at"]) == (
            "ota-1_5_0-1", "1.5.0", 67_584, T0 + 10)
    assert seen == [("offered", T0 + 10), ("started", T0 + 20), ("succeeded", T0 + 90)]


def test_the_newest_job_is_the_latest_update_and_a_rollback_or_refusal_keeps_its_reason():
    update = history_mod.latest_update(device_row([OFFERED, STARTED, SUCCEEDED, NEWER_OFFERED, ROLLED_BACK]))
    assert update == {"job": "ota-1_6_0-2", "version": "1.6.0", "state": "rolled_back", "at": T0 + 900,
                      "offered_at": T0 + 800, "size": 70_000, "reason": "rolled back: running 1.5.0"}
    refused = update_event("UpdateFailed", T0 + 30, reason="bad signature")
    update = history_mod.latest_update(device_row([OFFERED, refused]))
    assert (update["state"], update["reason"], update["at"]) == ("failed", "bad signature", T0 + 30)
    # An ending whose offer never reached this ledger (a job made elsewhere) still shows.
    alone = history_mod.latest_update(device_row([ROLLED_BACK]))
    assert (alone["state"], alone["offered_at"], alone["size"]) == ("rolled_back", None, None)


def test_the_firmware_that_fed_is_the_last_update_succeeded_before_the_answer():
    row = device_row([OFFERED, STARTED, SUCCEEDED, NEWER_OFFERED, ROLLED_BACK])
    assert [history_mod.firmware_at(row, t) for t in (T0, T0 + 89, T0 + 90, T0 + 901)] == [
        None, None, "1.5.0", "1.5.0"]  # the rolled-back 1.6.0 never fed
    before, after = press_event(1, at=T0 + 50), press_event(2, at=T0 + 100)
    answers = [result_event(1, before["detail"]["press_id"], "dispensed", T0 + 51, ["left"]),
               result_event(2, after["detail"]["press_id"], "dispensed", T0 + 101, ["right"])]
    store = SqliteStore(":memory:")
    updated = [OFFERED, STARTED, SUCCEEDED, telemetry(T0 + 120, firmware="1.5.0")]
    for event in [before, after, *answers, *updated]:
        projector.project(store, event)
    history = history_mod.History(list(store.rows()), T0 + 200)
    store.close()
    day = history_mod.date(2026, 11, 18)
    lines = history_mod.table(history, history.between(day, day))
    assert lines[0].split()[-2:] == ["firmware", "id"]
    assert [line.split()[-2] for line in lines[1:3]] == ["-", "1.5.0"]
    assert ", firmware 1.5.0, " in lines[-1]  # the device line: what its last telemetry says it runs


def test_a_ledger_from_before_updates_reads_as_the_base_set():
    old = device_row([status_event("online", T0), telemetry(T0 + 1, outbox_depth=0)])  # no `firmware`
    assert history_mod.latest_update(old) is None and history_mod.firmware_at(old, T0 + 2) is None
    assert history_mod.firmware_said(old["telemetry"]) == "development firmware"
    assert history_mod.firmware_said(None) == "firmware not reported"


def test_the_page_state_carries_the_firmware_and_the_latest_update(tmp_path):
    backend = backend_on(tmp_path, [telemetry(T0 + 95, firmware="1.5.0"), OFFERED, STARTED, SUCCEEDED,
                                    NEWER_OFFERED])
    try:
        feeder = only_feeder(backend.snapshot(T0 + 1000))
    finally:
        backend.close()
    assert feeder["device"]["firmware"] == "1.5.0"
    assert feeder["update"] == {"job": "ota-1_6_0-2", "version": "1.6.0", "state": "offered", "at": T0 + 800,
                                "offered_at": T0 + 800, "size": 70_000, "reason": None}
    (tmp_path / "old").mkdir()
    bare = backend_on(tmp_path / "old", [telemetry(T0, outbox_depth=0)])
    try:
        feeder = only_feeder(bare.snapshot(T0 + 10))
    finally:
        bare.close()
    assert (feeder["device"]["firmware"], feeder["update"]) == (None, None)


def test_a_rebuild_to_t_shows_the_update_as_it_stood_at_t(tmp_path):
    clock = [0]
    ledger = Ledger(str(tmp_path / "ledger.sqlite3"), clock=lambda: clock[0])
    arrivals = [(T0 + 5, telemetry(T0 + 5, firmware=None)), (T0 + 10, OFFERED), (T0 + 20, STARTED),
                (T0 + 90, SUCCEEDED), (T0 + 95, telemetry(T0 + 95, firmware="1.5.0"))]
    for clock[0], event in arrivals:
        ledger.append_batch([(event, dedup_key(event))])
    ledger.close()
    shown = {}
    for until in (T0 + 50, T0 + 100):
        out = tmp_path / ("rebuilt-%d.sqlite3" % until)
        hydrate(str(tmp_path / "ledger.sqlite3"), str(out), until=until)
        store = SqliteStore(str(out))
        row, _ = store.get("device#cat-feeder")
        store.close()
        shown[until] = (history_mod.latest_update(row)["state"], row["telemetry"].get("firmware"))
    assert shown == {T0 + 50: ("started", None), T0 + 100: ("succeeded", "1.5.0")}

"""Schedules on the self-hosted hub (docs/protocol.md, "In the ledger" and "Schedule shadow"): `make
schedule` records a ScheduleChanged, the `schedules` rule writes the shadow the hub serves on real
mosquitto, a device following the contract (tools/shadow_device.py, paho) gets the newest version and
its report lands in the ledger as ScheduleReported; a device that was off gets the latest version and
never an older one; bad schedules change nothing; replaying the ledger never writes the shadow; the
schedule rebuilt to a time T (hydrate) is the one in force at T; a restored hub's shadows desire each
feeder's newest schedule."""

import argparse
import json
import os
import sqlite3
import time

import pytest

from cloud import schedule_tool
from cloud.hub import ledger as ledger_mod
from cloud.hub.replay import replay
from cloud.hub.shadows import SHADOWS_FILE, ShadowRejected
from cloud.topology import SOURCE, THING, shadow_topic
from rigs.device import wait_for
from tools.shadow_device import ShadowDevice


@pytest.fixture
def household(tmp_path):
    path = tmp_path / "household.json"
    caps = {"max_portions_per_hour": 4, "max_portions_per_day": 4}
    path.write_text(
        json.dumps(
            {
                "timezone": "Australia/Sydney",
                "schedule_min_gap_min": 90,
                "things": [{"thing": THING, "role": "feeder", "caps": caps}],
            }
        )
    )
    return str(path)


def cli(hub, household, *argv):
    return schedule_tool.main([*argv, "--thing", THING, "--data-dir", hub.data_dir, "--household", household])


def ledger_events(hub, detail_type):
    db = ledger_mod.connect(hub.ledger_path, readonly=True)
    try:
        return [event for _, event in ledger_mod.read(db) if event["detail-type"] == detail_type]
    finally:
        db.close()


def row(hub):
    doc, _ = hub.store.get("schedule#" + THING)
    return doc or {}


def shadow_document_version(hub):
    db = sqlite3.connect(os.path.join(hub.data_dir, SHADOWS_FILE))
    try:
        found = db.execute("SELECT version FROM shadows WHERE thing = ?", (THING,)).fetchone()
    finally:
        db.close()
    return found[0] if found else 0


def set_slot(hub, household, slot, at, version):
    assert cli(hub, household, "set", "--slot", str(slot), "--at", at, "--event", "LONG") == 0
    wait_for(
        lambda: row(hub).get("changed", {}).get("version") == version, 5, "version %d projected" % version
    )


def test_a_schedule_set_reaches_the_device_and_its_report_the_ledger(hub, pki, broker, household, capsys):
    device = ShadowDevice(pki, broker.port, THING).start()
    try:
        set_slot(hub, household, 0, "07:30", 1)
        device.wait_applied(1)
        assert device.desired == {
            "version": 1,
            "tz": "AEST-10AEDT,M10.1.0,M4.1.0/3",
            "paused": False,
            "slots": [{"id": 0, "at": 450, "event": "LONG", "portions": 1, "days": 127}],
            "skip": [],
            "grace_s": 1800,
        }
        wait_for(lambda: (row(hub).get("reported") or {}).get("version") == 1, 5, "report 1")
        (reported,) = ledger_events(hub, "ScheduleReported")
        assert reported["source"] == "com.feedmyfurbabies.device"
        assert (reported["detail"]["thing"], reported["detail"]["version"], reported["detail"]["clock"]) == (
            THING,
            1,
            "ntp",
        )
        (changed,) = ledger_events(hub, "ScheduleChanged")
        assert changed["source"] == SOURCE
        assert changed["detail"]["action"] == "set" and changed["detail"]["origin"] == "cli"
        assert changed["detail"]["schedule"]["slots"][0]["days"] == [
            "mon",
            "tue",
            "wed",
            "thu",
            "fri",
            "sat",
            "sun",
        ]
        capsys.readouterr()
        assert cli(hub, household, "show") == 0
        shown = capsys.readouterr().out
        assert "slot 0: 07:30 LONG x1 on every day" in shown and ("AEDT" in shown or "AEST" in shown)
        assert "the feeder reported version 1" in shown
    finally:
        device.stop()


def test_a_device_that_was_off_gets_the_latest_version_never_an_older_one(hub, pki, broker, household):
    first = ShadowDevice(pki, broker.port, THING).start()
    set_slot(hub, household, 0, "07:30", 1)
    first.wait_applied(1)
    first.stop()
    set_slot(hub, household, 1, "18:00", 2)
    assert cli(hub, household, "pause") == 0
    wait_for(lambda: row(hub).get("changed", {}).get("version") == 3, 5, "version 3 projected")
    wait_for(
        lambda: (
            json.loads(
                hub.shadows.store.get_thing_shadow(thingName=THING, shadowName="schedule")["payload"].read()
            )["state"]["desired"]["version"]
            == 3
        ),
        5,
        "version 3 desired",
    )
    # The older change delivered again, late (a retry, a redelivery): the shadow keeps version 3.
    (older,) = [e for e in ledger_events(hub, "ScheduleChanged") if e["detail"]["version"] == 2]
    answer = hub.runtime["schedules"](older)
    assert answer["status"] == "stale" and answer["shadow"] == 3

    again = ShadowDevice(pki, broker.port, THING).start()
    try:
        again.applied = [1]  # what it ran before going off (its flash)
        again.wait_applied(3)
        assert again.applied == [1, 3] and again.desired["paused"] is True
        wait_for(lambda: row(hub)["reported"]["version"] == 3, 5, "report 3")
    finally:
        again.stop()


def test_bad_schedules_change_nothing(hub, household, capsys):
    set_slot(hub, household, 0, "07:30", 1)
    before = len(ledger_events(hub, "ScheduleChanged"))
    capsys.readouterr()
    for argv, said in (
        (
            ("set", "--slot", "1", "--at", "08:30", "--event", "SINGLE"),
            "less than the household's schedule_min_gap_min (90 min) apart",
        ),
        (
            (
                "set",
                "--slot",
                "1",
                "--at",
                "18:00",
                "--event",
                "LONG",
                "--portions",
                "4",
                "--days",
                "mon,tue",
            ),
            "5 portions on mon for the left bowl, over the feeder's max_portions_per_day of 4",
        ),
        (("set", "--slot", "1", "--at", "24:00", "--event", "LONG"), "slots[1].at: expected a local time"),
        (("set", "--slot", "9", "--at", "12:00", "--event", "LONG"), "slots[1].id: expected an integer 0..7"),
        (("set", "--slot", "1", "--at", "12:00", "--event", "TRIPLE"), "slots[1].event: expected SINGLE"),
        (("set", "--slot", "1", "--at", "12:00", "--event", "LONG", "--days", "mon,funday"), "slots[1].days"),
        (("remove", "--slot", "5"), "slot: 5 is not in the schedule"),
        (("grace", "--minutes", "5000"), "grace_min: expected an integer 0..1440"),
    ):
        assert cli(hub, household, *argv) == 1, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and said in err, (argv, err)
    time.sleep(0.3)
    assert len(ledger_events(hub, "ScheduleChanged")) == before
    assert row(hub)["changed"]["version"] == 1


def test_an_unknown_zone_in_the_household_is_one_line(hub, tmp_path, capsys):
    path = tmp_path / "mars.json"
    path.write_text(json.dumps({"timezone": "Mars/Olympus", "things": [{"thing": THING}]}))
    assert cli(hub, str(path), "pause") == 1
    assert "timezone: expected an IANA time zone" in capsys.readouterr().err


def test_two_changes_of_one_version_are_one_and_the_second_writer_is_told(hub, household, capsys):
    set_slot(hub, household, 0, "07:30", 1)
    capsys.readouterr()

    class Stale:  # a projection that has not seen version 1 yet: the writer takes version 1 again
        def get(self, key):
            return None, 0

    args = argparse.Namespace(household=household, data_dir=hub.data_dir, aws=False)
    with pytest.raises(schedule_tool.ChangedMeanwhile, match="version 1: the schedule changed meanwhile"):
        schedule_tool.save(args, Stale(), THING, "pause", "cli")
    assert len(ledger_events(hub, "ScheduleChanged")) == 1


def test_replaying_the_ledger_never_writes_the_shadow(hub, pki, broker, household):
    device = ShadowDevice(pki, broker.port, THING).start()
    try:
        set_slot(hub, household, 0, "07:30", 1)
        set_slot(hub, household, 1, "18:00", 2)
        device.wait_applied(2)
        wait_for(lambda: row(hub).get("reported", {}).get("version") == 2, 5, "report 2")
        applied = list(device.applied)
        # A shadow the replay could write: gone (as after a restore), so any write would show.
        hub.shadows.store.db.execute("DELETE FROM shadows")
        read, delivered = replay(
            hub.ledger_path,
            "replay-all-but-feeds",
            0,
            time.time(),
            ["history", "schedules", "replays"],
            runtime=hub.runtime,
        )
        assert read >= 3 and delivered >= 3  # two changes, one report or two (the device may see only 2)
        # The replayed ScheduleChanged, straight to the function, is refused too.
        (first, *_) = ledger_events(hub, "ScheduleChanged")
        assert hub.runtime["schedules"](dict(first, **{"replay-name": "r"}))["status"] == "rejected"
        time.sleep(0.3)
        assert shadow_document_version(hub) == 0
        assert device.applied == applied and applied[-1] == 2
    finally:
        device.stop()


def test_the_shadow_topics_answer_as_aws_does(hub, pki, broker, mqtt):
    device = mqtt("device", client_id=THING)
    for suffix in ("get/accepted", "get/rejected", "update/delta"):
        assert device.subscribe(shadow_topic(THING, suffix), 1) == 1
    device.publish(shadow_topic(THING, "get"), b"{}", qos=1)
    topic, payload, _ = device.receive(5)
    assert topic == shadow_topic(THING, "get/rejected") and json.loads(payload)["code"] == 404
    # A device writes only reported: desired from it, bad JSON, an unknown key are refused (a log line on
    # the hub) and change nothing.
    for payload in (b'{"state":{"desired":{"version":9}}}', b"not json", b'{"state":{"elsewhere":{}}}'):
        device.publish(shadow_topic(THING, "update"), payload, qos=1)
    for request, code in (({"state": {"desired": {"version": 9}}}, 403), ({"state": {"elsewhere": {}}}, 400)):
        with pytest.raises(ShadowRejected) as refused:
            hub.shadows.store.update(THING, "schedule", request, from_device=True)
        assert refused.value.code == code
    time.sleep(0.3)
    assert hub.shadows.store.document(THING, "schedule") is None
    assert ledger_events(hub, "ScheduleReported") == []
    # Another thing's certificate can neither ask for this thing's shadow nor hear its answers (%u).
    other = mqtt(pki.device("feeder-b"))
    other.subscribe(shadow_topic(THING, "get/rejected"), 1)
    other.publish(shadow_topic(THING, "get"), b"{}", qos=1)
    assert device.receive(1) is None
    device.publish(shadow_topic(THING, "get"), b"{}", qos=1)
    assert device.receive(5)[0] == shadow_topic(THING, "get/rejected")
    assert other.receive(1) is None


def test_the_schedule_rebuilt_to_a_time_is_the_one_in_force_then(hub, household, tmp_path):
    from cloud.hub.hydrate import hydrate
    from cloud.hub.projection import SqliteStore

    set_slot(hub, household, 0, "07:30", 1)
    between = time.time()
    time.sleep(0.05)
    set_slot(hub, household, 1, "18:00", 2)
    hydrate(hub.ledger_path, str(tmp_path / "at-t.sqlite3"), until=between)
    rebuilt = SqliteStore(str(tmp_path / "at-t.sqlite3"))
    try:
        doc, _ = rebuilt.get("schedule#" + THING)
    finally:
        rebuilt.close()
    assert doc["changed"]["version"] == 1 and [s["id"] for s in doc["changed"]["schedule"]["slots"]] == [0]
    assert row(hub)["changed"]["version"] == 2


def test_a_restored_hub_serves_each_feeders_newest_schedule(hub, household, tmp_path):
    from cloud.hub import backup
    from cloud.hub.shadows import ShadowStore

    set_slot(hub, household, 0, "07:30", 1)
    set_slot(hub, household, 1, "18:00", 2)
    copy, _ = backup.take(hub.data_dir, str(tmp_path / "backups"))
    restored = tmp_path / "restored"
    backup.restore(copy, str(restored))
    store = ShadowStore(str(restored / SHADOWS_FILE))
    try:
        desired = store.document(THING, "schedule")["desired"]
    finally:
        store.close()
    assert desired["version"] == 2 and [s["at"] for s in desired["slots"]] == [450, 1080]
    assert desired["tz"] == "AEST-10AEDT,M10.1.0,M4.1.0/3"


def test_a_thing_not_a_feeder_of_the_file_or_no_hub_data_is_one_line(tmp_path, capsys):
    """`make schedule THING=...` of a typo or a remote button, or a hub run on another folder: one line
    each, never an empty schedule that looks like the feeder's."""
    path = tmp_path / "household.json"
    path.write_text(
        json.dumps(
            {"things": [{"thing": "kitchen"}, {"thing": "hall", "role": "button", "feeds": "kitchen"}]}
        )
    )
    for thing, said in (
        ("attic", "schedule: thing: 'attic' is not in the household file (it names kitchen, hall)\n"),
        ("hall", "schedule: thing: 'hall' is a button, not a feeder\n"),
        ("kitchen", 'or name the folder of the hub you run (make schedule ARGS="--data-dir DIR")\n'),
    ):
        argv = ["--thing", thing, "--household", str(path), "--data-dir", str(tmp_path / "none")]
        assert schedule_tool.main(argv) == 1, thing
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.endswith(said), (thing, err)


def test_a_mistyped_option_is_one_line(tmp_path, capsys):
    for argv, said in ((["set", "--slot", "x"], "argument --slot: invalid int value: 'x'"),
                       (["frobnicate"], "argument command: invalid choice: 'frobnicate'")):
        with pytest.raises(SystemExit) as exited:
            schedule_tool.main(argv)
        err = capsys.readouterr().err
        assert exited.value.code == 2 and err.count("\n") == 1 and err.startswith("schedule: " + said), err


def test_changes_typed_one_after_another_each_build_on_the_last(hub, household, capsys):
    """README's `make schedule` lines run back to back: each change is recorded on the one before it,
    though the hub projects a change within its rules' poll, after the command that made it returns."""
    for argv in (
        ("set", "--slot", "0", "--at", "07:30", "--event", "LONG"),
        ("set", "--slot", "1", "--at", "18:00", "--event", "SINGLE", "--days", "mon,wed,fri"),
        ("remove", "--slot", "1"),
        ("grace", "--minutes", "45"),
        ("pause",),
        ("resume",),
        ("skip",),
    ):
        assert cli(hub, household, *argv) == 0, (argv, capsys.readouterr().err)
    versions = [event["detail"]["version"] for event in ledger_events(hub, "ScheduleChanged")]
    assert versions == [1, 2, 3, 4, 5, 6, 7]
    changed = row(hub)["changed"]
    assert changed["version"] == 7 and [slot["id"] for slot in changed["schedule"]["slots"]] == [0]
    assert changed["schedule"]["grace_min"] == 45


def test_a_change_on_a_stopped_hub_is_recorded_and_the_next_says_start_the_hub(household, tmp_path, capsys):
    from cloud.hub.hub import HISTORY_FILE, LEDGER_FILE
    from cloud.hub.projection import SqliteStore

    data_dir = tmp_path / "hub"
    data_dir.mkdir()
    ledger_mod.Ledger(str(data_dir / LEDGER_FILE)).close()
    SqliteStore(str(data_dir / HISTORY_FILE)).db.close()
    argv = ["--thing", THING, "--data-dir", str(data_dir), "--household", household]
    started = time.monotonic()
    assert schedule_tool.main(["pause", *argv]) == 0
    assert time.monotonic() - started < 2  # no hub to wait for
    assert capsys.readouterr().out == "schedule: pause recorded as version 1 for %s\n" % THING
    assert schedule_tool.main(["resume", *argv]) == 1
    assert capsys.readouterr().err == (
        "schedule: version 1 is in the ledger but no hub runs on %s to apply it: start the hub (make hub), "
        "then try again; nothing recorded\n" % data_dir)

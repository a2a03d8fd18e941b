"""A schedule from end to end on the self-hosted hub with the real firmware (MicroPython, mosquitto over
mutual TLS): `make schedule` records a ScheduleChanged, the hub's shadow service hands the newest version
to the feeder, the feeder's report lands in the ledger as ScheduleReported, and the slot fires on the
feeder's own clock, its result in the ledger once and marked as scheduled (docs/protocol.md, "Schedule
shadow"; the two halves alone: test_schedule_hub.py and test_device_schedule.py); a feeder that finds the
session a firmware without schedules left still subscribes to its shadow (firmware/connect.py)."""

import json
import os
import time

from cloud import schedule_tool
from cloud.hub import ledger as ledger_mod
from cloud.topology import THING, action_topic
from rigs.device import RIGHT_PULSES, Device, dispense_starts, rig_config, wait_for
from tools.mqttc import MqttClient

NOON = 12 * 3600


def set_device_clock(device, device_time):
    """The sim's clock file (firmware/main_unix.py): the device reads real time plus this offset."""
    path = os.path.join(device.flash, "clock.txt")
    with open(path + ".new", "w") as f:
        f.write(str(device_time - int(time.time())))
    os.replace(path + ".new", path)


def ledger_details(hub, detail_type):
    db = ledger_mod.connect(hub.ledger_path, readonly=True)
    try:
        return [event["detail"] for _, event in ledger_mod.read(db) if event["detail-type"] == detail_type]
    finally:
        db.close()


def write_household(tmp_path):
    household = tmp_path / "household.json"
    household.write_text(json.dumps({"timezone": "UTC", "things": [{"thing": THING, "role": "feeder"}]}))
    return str(household)


def set_slot(hub, household, at, event):
    assert schedule_tool.main(["set", "--slot", "0", "--at", at, "--event", event, "--thing", THING,
                               "--data-dir", hub.data_dir, "--household", household]) == 0


def reported_versions(hub):
    return [detail["version"] for detail in ledger_details(hub, "ScheduleReported")]


def test_a_slot_set_with_make_schedule_feeds_on_the_feeders_clock_and_reaches_the_ledger_once(
        tmp_path, pki, broker, hub, capsys):
    household = write_household(tmp_path)
    day = (int(time.time()) // 86400 + 2) * 86400  # a day ahead: no slot of today lies between
    device = Device(tmp_path / "flash", pki, rig_config(broker.port, sim={"clock": "clock.txt",
                                                                        "schedule_check_ms": 50}))
    set_device_clock(device, day + NOON)
    device.start()
    try:
        device.wait_up()
        set_slot(hub, household, "12:05", "DOUBLE")
        wait_for(lambda: reported_versions(hub) == [1], 15, "the feeder reporting version 1 into the ledger")
        assert dispense_starts(device.trace()) == []  # nothing due yet

        set_device_clock(device, day + NOON + 5 * 60 - 2)  # two seconds before the slot
        expected_id = "sch-1-0-%s-1" % time.strftime("%Y%m%d", time.gmtime(day))
        wait_for(lambda: [r["id"] for r in ledger_details(hub, "FeedResult")] == [expected_id], 15,
                 "the scheduled feeding's result in the ledger")
        (result,) = ledger_details(hub, "FeedResult")
        assert (result["status"], result["origin"]) == ("dispensed", "schedule")
        assert result["due"] == day + NOON + 300
        assert [pin for _, pin, _ in dispense_starts(device.trace())] == [RIGHT_PULSES[0]]  # DOUBLE: right
        time.sleep(1)  # a second check of the same minute feeds nothing more
        assert len(dispense_starts(device.trace())) == 1
        assert [r["id"] for r in ledger_details(hub, "FeedResult")] == [expected_id]
    finally:
        device.kill()


def test_a_feeder_that_finds_the_session_of_a_firmware_without_schedules_still_gets_its_schedule(
        tmp_path, pki, broker, hub):
    # The persistent session an earlier firmware left: its client id, its action topic only.
    earlier = MqttClient(pki, broker.port, identity=pki.device(THING), client_id=THING, clean_session=False)
    earlier.subscribe(action_topic(THING))
    earlier.close()
    set_slot(hub, write_household(tmp_path), "07:30", "LONG")
    device = Device(tmp_path / "flash", pki, rig_config(broker.port)).start()
    try:
        device.wait_up()
        wait_for(lambda: reported_versions(hub) == [1], 15, "the feeder reporting version 1 into the ledger")
    finally:
        device.kill()

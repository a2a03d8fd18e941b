"""A schedule from end to end on the self-hosted hub with the real firmware (MicroPython, mosquitto over
mutual TLS): `make schedule` records a ScheduleChanged, the hub's shadow service hands the newest version
to the feeder, the feeder's report lands in the ledger as ScheduleReported, and the slot fires on the
feeder's own clock, its result in the ledger once and marked as scheduled (docs/protocol.md, "Schedule
shadow"; the two halves alone: test_schedule_hub.py and test_device_schedule.py)."""

import json
import os
import time

from cloud import schedule_tool
from cloud.hub import ledger as ledger_mod
from cloud.topology import THING
from rigs.device import RIGHT_PULSES, Device, dispense_starts, rig_config, wait_for

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


def test_a_slot_set_with_make_schedule_feeds_on_the_feeders_clock_and_reaches_the_ledger_once(
        tmp_path, pki, broker, hub, capsys):
    household = tmp_path / "household.json"
    household.write_text(json.dumps({"timezone": "UTC", "things": [{"thing": THING, "role": "feeder"}]}))
    day = (int(time.time()) // 86400 + 2) * 86400  # a day ahead: no slot of today lies between
    device = Device(tmp_path / "flash", pki, rig_config(broker.port, sim={"clock": "clock.txt",
                                                                        "schedule_check_ms": 50}))
    set_device_clock(device, day + NOON)
    device.start()
    try:
        device.wait_up()
        assert schedule_tool.main(["set", "--slot", "0", "--at", "12:05", "--event", "DOUBLE", "--thing",
                                   THING, "--data-dir", hub.data_dir, "--household", str(household)]) == 0
        wait_for(lambda: [d["version"] for d in ledger_details(hub, "ScheduleReported")] == [1], 15,
                 "the feeder reporting version 1 into the ledger")
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

"""The schedule on the whole firmware (MicroPython, real mosquitto over mutual TLS), the device's clock
moved by days through the sim's clock file: it keeps feeding 48 hours with the broker down and the
results reach the broker afterwards, each once; an edit made while it was offline is applied when it
reconnects and an older version delivered late is ignored; a power cut as a slot fires never feeds
twice. Rules: docs/protocol.md, "Schedule shadow".

ShadowService stands in for the hub's shadow service (cloud/hub, branch sched-cloud) with a paho
client on the hub's certificate, following the contract: it answers each `get` with `get/accepted`
(the document's `state.desired`) or `get/rejected`, keeps what the device reports on `update`, and
publishes `update/delta` when the desired state changes.
"""

import json
import os
import threading
import time

import paho.mqtt.client as paho

from rigs.device import Device, Observer, dispense_starts, rig_config, wait_for
from tools.mqttc import tls_context

THING = "cat-feeder"
SHADOW = "$aws/things/%s/shadow/name/schedule" % THING
DAY = 86400
MORNING, EVENING = 6 * 3600, 18 * 3600  # the slots, UTC0
RECOVERY_S = 8


def desired(version, slots=((0, 360, "SINGLE"), (1, 1080, "DOUBLE")), skip=()):
    slot_list = [{"id": s, "at": at, "event": event, "portions": 1, "days": 127} for s, at, event in slots]
    return {"version": version, "tz": "UTC0", "paused": False, "skip": list(skip), "grace_s": 1800,
            "slots": slot_list}


class ShadowService:
    def __init__(self, pki, port, document):
        self.document = document
        self.reported = []  # every `reported` state the device sent
        self.lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="shadow-stand-in")
        self.client.tls_set_context(tls_context(pki, "hub"))
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect("localhost", port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason, properties):
        client.subscribe([(SHADOW + "/get", 1), (SHADOW + "/update", 1)])

    def _on_message(self, client, userdata, message):
        if message.topic.endswith("/get"):
            self.answer(self.document)
        elif message.topic.endswith("/update"):
            with self.lock:
                self.reported.append(json.loads(message.payload)["state"]["reported"])

    def answer(self, document):
        """get/accepted with `document` as state.desired (any version: a late one too)."""
        body = {"state": {"desired": document}, "version": document["version"], "timestamp": int(time.time())}
        self.client.publish(SHADOW + "/get/accepted", json.dumps(body), qos=1)

    def change(self, document):
        """The owner edits the schedule: a delta (lost while the broker is down; `get` finds it)."""
        self.document = document
        self.client.publish(SHADOW + "/update/delta", json.dumps({"state": document}), qos=1)

    def last_reported(self):
        with self.lock:
            return self.reported[-1] if self.reported else None

    def wait_reported(self, version, timeout_s=15):
        wait_for(lambda: (self.last_reported() or {}).get("version") == version, timeout_s,
                 "the device reporting version %d" % version)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def start_device(tmp_path, pki, broker, device_time, **sim):
    """A device whose clock reads device_time now (a clock file it reads at every reading)."""
    sim = dict({"clock": "clock.txt", "schedule_check_ms": 50}, **sim)
    device = Device(tmp_path / "flash", pki, rig_config(broker.port, sim=sim))
    set_clock(device, device_time)
    return device.start()


def set_clock(device, device_time):
    path = os.path.join(device.flash, "clock.txt")
    with open(path + ".new", "w") as f:
        f.write(str(device_time - int(time.time())))
    os.replace(path + ".new", path)


def date_of(instant):
    return time.strftime("%Y%m%d", time.gmtime(instant))


def test_offline_48_hours_feeds_on_time_and_reports_each_once_then_takes_the_edit_made_meanwhile(
        tmp_path, pki, broker):
    midnight = (int(time.time()) // DAY + 1) * DAY
    service = ShadowService(pki, broker.port, desired(1))
    observer = Observer(pki, broker.port)
    device = start_device(tmp_path, pki, broker, midnight + MORNING - 60)
    try:
        device.wait_up()
        service.wait_reported(1)
        assert service.last_reported()["clock"] == "ntp"
        broker.kill()
        device.expect("app: down", 10)
        dues = [midnight + MORNING, midnight + EVENING, midnight + DAY + MORNING, midnight + DAY + EVENING]
        for n, due in enumerate(dues, 1):
            set_clock(device, due + 5)  # hours later, 5 s after the slot
            wait_for(lambda n=n: len(dispense_starts(device.trace())) == n, 10, "scheduled feeding %d" % n)
        set_clock(device, dues[-1] + 600)
        # Meanwhile the owner moves the evening slot to 19:00 and adds one at 20:00 (version 3).
        edited = desired(3, ((0, 360, "SINGLE"), (1, 1140, "DOUBLE"), (2, 1200, "SINGLE")))
        service.change(edited)
        broker.start()
        observer.reconnect()
        device.expect("app: up", RECOVERY_S + 10)
        service.wait_reported(3)
        ids = ["sch-1-%d-%s-1" % (slot, date_of(due)) for slot, due in zip((0, 1, 0, 1), dues, strict=True)]
        results = observer.collect(ids, timeout_s=15)
        for command_id, due in zip(ids, dues, strict=True):
            assert [(r["status"], r["origin"], r["due"]) for r in results[command_id]] == [
                ("dispensed", "schedule", due)], command_id
            assert due <= results[command_id][0]["at"] <= due + 10
        observer.assert_seq_gap_free()
        # An older version delivered late is ignored: nothing new to report (applying it would report
        # version 2), and the edit re-fed nothing.
        reports = len(service.reported)
        service.answer(desired(2))
        time.sleep(1)
        assert len(service.reported) == reports and service.last_reported()["version"] == 3
        assert len(dispense_starts(device.trace())) == 4
        # Version 3 runs: its 20:00 slot today, once.
        set_clock(device, midnight + DAY + 1200 * 60 + 5)
        results = observer.collect(["sch-3-2-%s-1" % date_of(midnight + DAY)], timeout_s=10)
        assert len(dispense_starts(device.trace())) == 5
    finally:
        device.kill()
        observer.close()
        service.close()


def test_a_power_cut_as_a_slot_fires_never_feeds_twice_and_reports_it_once(tmp_path, pki, broker):
    midnight = (int(time.time()) // DAY + 1) * DAY
    service = ShadowService(pki, broker.port, desired(1))
    observer = Observer(pki, broker.port)
    # Every boot parks both gates (4 writes): write 6 is the scheduled dispense's gate driven open.
    device = start_device(tmp_path, pki, broker, midnight + MORNING - 60, freeze_at_write=6)
    try:
        device.wait_up()
        service.wait_reported(1)
        set_clock(device, midnight + MORNING + 5)
        device.expect("sim: frozen before pwm write 6 ", timeout_s=10)
        device.kill()
        config = rig_config(broker.port, sim={"clock": "clock.txt", "schedule_check_ms": 50})
        device.configure(config)
        device.start()
        device.wait_up()
        command_id = "sch-1-0-%s-1" % date_of(midnight)
        results = observer.collect([command_id], timeout_s=15)
        time.sleep(1)  # room for a second feeding or report, which must not come
        observer.pump(0.5)
        assert [r["status"] for r in observer.by_id()[command_id]] == ["interrupted"]
        assert results[command_id][0]["origin"] == "schedule"
        assert len(dispense_starts(device.trace())) == 1  # opened once, before the cut; never again
    finally:
        device.kill()
        observer.close()
        service.close()

"""Alerts end to end: the firmware on MicroPython, mosquitto, the hub, and a local HTTP receiver as the
notification service (Apprise's json:// target). One device life covers the crash harness's interrupted
dispense (SIGKILL mid-dispense: one offline, one interrupted, one back online), a flood of capped
commands (one incident) delivered late because the receiver was down (the feeder and the history are
not held up), then a replay of the whole ledger (no alert) and the incidents rebuilt from the ledger
(equal to the live ones)."""

import logging
import time

from cloud import household
from cloud.handlers import projector
from cloud.hub import alerting
from cloud.hub import replay as replay_mod
from cloud.hub.hub import Hub
from rigs.device import ACTION, Device, Observer, command, rig_config, wait_for
from rigs.receiver import Receiver

OFFLINE_AFTER_S = 2
CAP = 2
FLOOD = 6


def test_one_alert_per_incident_delivered_late_when_the_receiver_was_down_and_replays_never_alert(
    tmp_path, pki, broker, mqtt, caplog
):
    caplog.set_level(logging.INFO)
    receiver = Receiver().start()
    home = household.validate(
        {
            "things": [{"thing": "cat-feeder", "name": "Kitchen"}],
            "alerts": {
                "offline_after_s": OFFLINE_AFTER_S,
                "back_online_after_s": 1,
                "notify": [receiver.url()],
            },
        }
    )
    hub = Hub(
        str(tmp_path / "hub"),
        pki,
        "127.0.0.1",
        broker.port,
        topology=household.topology(home),
        notify=home["alerts"]["notify"],
        alert_check_s=0.2,
    ).start()
    observer = Observer(pki, broker.port)
    publisher = mqtt("publisher")
    config = rig_config(
        broker.port,
        feeding={"max_portions_per_hour": CAP, "max_portions_per_day": CAP},
        sim={"freeze_at_write": 6, "servo_wait": False},
    )
    device = Device(tmp_path / "flash", pki, config).start()
    try:
        device.wait_up()
        up = time.monotonic()
        publisher.publish(ACTION, command("crash-cmd"))
        device.expect("sim: frozen before pwm write 6 ", timeout_s=10)
        # A will within WILL_SLACK_S of the device's `online` is taken for a reconnect's stale one.
        time.sleep(max(0.0, up + projector.WILL_SLACK_S + 1 - time.monotonic()))
        killed = time.monotonic()
        device.kill()  # mid-dispense: the broker sends the device's `offline` will at once
        assert receiver.wait_for(1, OFFLINE_AFTER_S + 5) == ["Kitchen is offline"]
        assert receiver.notes[0][0] - killed >= OFFLINE_AFTER_S - 1  # the will's time: whole seconds

        del config["sim"]["freeze_at_write"]
        device.configure(config)
        device.start()
        device.wait_up()
        titles = receiver.wait_for(3, 10)
        assert sorted(titles[1:]) == ["Kitchen is back online", "Kitchen: a dispense was interrupted"]

        receiver.stop()  # the notification service goes down
        flood = ["flood-%d" % n for n in range(FLOOD)]
        for command_id in flood:
            publisher.publish(ACTION, command(command_id))
        results = observer.collect(flood)
        statuses = [results[i][0]["status"] for i in flood]
        assert "capped" in statuses
        wait_for(hub.delivered, 5, "the history and every rule to reach the ledger's end")  # not held up
        wait_for(lambda: alerting.listing(hub.alerting.path)["pending"] > 0, 5, "an undelivered alert")

        receiver.start()  # back: the outbox is retried with backoff until it is delivered
        expected = 3 + (1 if "dispensed" in statuses else 0) + 1
        titles = receiver.wait_for(expected, 15)
        assert titles.count("Kitchen: a feeding was refused by the cap") == 1
        assert titles.count("Kitchen is offline") == 1 and titles.count("Kitchen is back online") == 1
        wait_for(lambda: alerting.listing(hub.alerting.path)["pending"] == 0, 5, "the outbox marked sent")
        listing = alerting.listing(hub.alerting.path)
        capped = [i for i in listing["open"] + listing["resolved"] if i["kind"] == "capped"]
        assert len(capped) == 1 and capped[0]["count"] == statuses.count("capped")
        assert listing["dead_letters"] == []

        # A replay of the whole ledger to the alerts rule changes no incident and sends nothing.
        replay_mod.replay(
            hub.ledger_path, "again", 0, time.time(), ["alerts"], hub.topology, runtime=hub.runtime
        )
        time.sleep(1.0)
        assert len(receiver.titles()) == expected
        assert alerting.listing(hub.alerting.path)["open"] == listing["open"]
        # The incidents rebuilt from the ledger alone equal the live ones (the hub's own are not events).
        opened, resolved = alerting.rebuild(hub.ledger_path, hub.topology, time.time())
        assert (opened, resolved) == (
            [i for i in listing["open"] if i["thing"] != "hub"],
            [i for i in listing["resolved"] if i["thing"] != "hub"],
        )
        assert "s3cret-token" not in caplog.text and "json://127.0.0.1:%d/..." % receiver.port in caplog.text
    finally:
        device.kill()
        observer.close()
        hub.stop()
        receiver.stop()

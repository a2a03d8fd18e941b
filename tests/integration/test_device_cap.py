"""The feeding cap over the wire: a flood of distinct valid ids feeds at most the cap, a reboot
keeps the count, and an hour later a legitimate command is fed. The journal never reports full."""

import time

from rigs.device import ACTION, Device, Observer, command, dispense_starts, rig_config

PER_HOUR = 2
FLOOD = 12


def test_a_flood_feeds_at_most_the_cap_which_survives_a_reboot_and_rolls_on(tmp_path, pki, broker, mqtt):
    observer = Observer(pki, broker.port)
    config = rig_config(broker.port, feeding={"max_portions_per_hour": PER_HOUR, "max_portions_per_day": 4},
                        sim={"servo_wait": False})
    device = Device(tmp_path / "flash", pki, config).start()
    device.wait_up()
    publisher = mqtt("publisher")
    flood = ["flood-%02d" % n for n in range(FLOOD)]
    for command_id in flood:
        publisher.publish(ACTION, command(command_id))
    results = observer.collect(flood)
    statuses = [results[i][0]["status"] for i in flood]
    assert statuses == ["dispensed"] * PER_HOUR + ["capped"] * (FLOOD - PER_HOUR)
    capped = results[flood[-1]][0]
    assert capped["bowls"] == [] and capped["reason"] == (
        "cap: left bowl has had 2 portions in the last hour (max_portions_per_hour 2)")
    assert len(dispense_starts(device.trace())) == PER_HOUR

    device.kill()  # the count comes back from flash
    device.start()
    device.wait_up()
    publisher.publish(ACTION, command("after-reboot"))
    assert [r["status"] for r in observer.collect(["after-reboot"])["after-reboot"]] == ["capped"]

    device.kill()
    config["sim"]["clock_offset_s"] = 3601  # the same flash, an hour later
    device.configure(config)
    device.start()
    device.wait_up()
    publisher.publish(ACTION, command("an-hour-later", issued_at=int(time.time()) + 3601))
    assert [r["status"] for r in observer.collect(["an-hour-later"])["an-hour-later"]] == ["dispensed"]
    assert len(dispense_starts(device.trace())) == PER_HOUR + 1
    assert not [r for r in observer.results.values() if "storage" in r.get("reason", "")]
    device.kill()
    observer.close()

"""A crash at every point of a dispense leaves no gate open: the next boot drives every servo to
rest before anything else, and the command is reported `interrupted` once, never fed again.

The sim HAL hangs before a chosen PWM write (`sim.freeze_at_write`) and the test SIGKILLs the
device there. Every boot first parks both gates (4 writes), so for a SINGLE write 5 opens the
left gate, 6 detaches it at the dispense angle, 7 starts the return and 8 detaches at rest.
"""

import time

import pytest

from rigs.device import (
    ACTION,
    LEFT_PULSES,
    PARK_WRITES,
    Device,
    Observer,
    command,
    dispense_starts,
    rig_config,
)

POINTS = {
    "before the move": 5,  # journalled, gate not yet driven
    "at the dispense angle": 6,  # driven open, not yet detached
    "during the dwell": 7,  # open and detached, food falling
    "during the return": 8,  # driven back, not yet detached
}


@pytest.mark.parametrize("point", list(POINTS))
def test_crash_mid_dispense_parks_every_gate_at_boot_and_reports_interrupted_once(
        point, tmp_path, pki, broker, mqtt):
    freeze_at = POINTS[point]
    observer = Observer(pki, broker.port)
    config = rig_config(broker.port, sim={"freeze_at_write": freeze_at})
    device = Device(tmp_path / "flash", pki, config).start()
    device.wait_up()
    publisher = mqtt("publisher")
    publisher.publish(ACTION, command("crash-cmd"))
    device.expect("sim: frozen before pwm write %d " % freeze_at, timeout_s=10)
    device.kill()
    first_life = [(pin, duty) for _, pin, duty in device.trace()]
    assert first_life == PARK_WRITES + [
        (LEFT_PULSES[0], LEFT_PULSES[1]), (LEFT_PULSES[0], 0), (LEFT_PULSES[0], LEFT_PULSES[2]),
    ][: freeze_at - 5]

    del config["sim"]["freeze_at_write"]
    device.configure(config)
    device.start()
    device.expect("app: gates at rest")
    device.wait_up()
    up_at_us = time.monotonic_ns() // 1000
    second_life = device.trace()[len(first_life):]
    # Both gates driven to rest and detached, before the device connected and subscribed.
    assert [(pin, duty) for _, pin, duty in second_life[:4]] == PARK_WRITES
    assert second_life[3][0] < up_at_us

    publisher.publish(ACTION, command("after-crash"))
    results = observer.collect(["after-crash"])
    # Reported at boot, then the broker's redelivery of the unacknowledged command is a duplicate.
    assert [r["status"] for r in results["crash-cmd"]] == ["interrupted", "duplicate"]
    assert results["crash-cmd"][0]["bowls"] == ["left"]
    assert [r["status"] for r in results["after-crash"]] == ["dispensed"]
    opened_before_crash = 1 if freeze_at > 5 else 0
    assert len(dispense_starts(device.trace())) == opened_before_crash + 1  # never fed again
    device.kill()
    observer.close()

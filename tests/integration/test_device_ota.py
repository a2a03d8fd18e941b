"""The main loop's part of an update's trial (firmware/app.py, otaboot.py), on the whole firmware on
MicroPython against mosquitto: a set on trial is confirmed once connected and subscribed; one that
cannot connect within ota.trial_s ends main.py (on the ESP32 a soft reset, after which boot.py
counts the boot). The unix port runs no boot.py: the state is written as otaboot.select leaves it
on a trial boot."""

import os
import time

from cloud.hub.processes import free_port
from rigs.device import Device, rig_config


def on_trial(flash):
    """The flash as boot.py leaves it on the first boot of a verified update in slot a."""
    os.makedirs(os.path.join(flash, "ota", "a"))
    with open(os.path.join(flash, "ota", "a", "manifest.txt"), "w") as f:
        f.write("cat-feeder release 1\n")
    with open(os.path.join(flash, "ota", "state"), "w") as f:
        f.write("- a 1 -\n")


def state(flash):
    with open(os.path.join(flash, "ota", "state")) as f:
        return f.read()


def test_a_set_on_trial_is_confirmed_once_connected_and_subscribed(tmp_path, pki, broker):
    device = Device(tmp_path / "flash", pki, rig_config(broker.port))
    on_trial(device.flash)
    device.start()
    try:
        device.wait_up()
        assert device.expect("ota: ") == "ota: a confirmed: connected and subscribed"
        assert state(device.flash) == "a - 0 -\n"
    finally:
        device.kill()


def test_a_set_on_trial_that_cannot_connect_ends_the_main_loop_after_trial_s(tmp_path, pki):
    nobody = free_port()  # nothing listens: every connect attempt fails
    device = Device(tmp_path / "flash", pki, rig_config(nobody, ota={"trial_s": 5}))
    on_trial(device.flash)
    device.start()
    try:
        assert device.expect("ota: ", timeout_s=20) == "ota: a not connected within 5 s: restarting"
        device.proc.wait(10)  # SystemExit ends main.py
        assert state(device.flash) == "- a 1 -\n"  # still on trial: boot.py counts the next boot
        assert not any(line.startswith("app: up") for line in device.output())
    finally:
        device.kill()


def test_without_an_update_nothing_about_ota_is_logged_or_written(tmp_path, pki, broker):
    device = Device(tmp_path / "flash", pki, rig_config(broker.port))
    device.start()
    try:
        device.wait_up()
        time.sleep(1)  # a confirmation would be logged right after "app: up"
        assert not os.path.exists(os.path.join(device.flash, "ota"))
        assert not any(line.startswith("ota: ") for line in device.output())
    finally:
        device.kill()

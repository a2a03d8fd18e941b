"""A release whose main raises at boot, rolled back through the hub (issue 23; docs/protocol.md, "Updates
over the air"; firmware/README.md, "Over-the-air updates", Rollback): the real hub (`make ota`'s command,
its jobs service, HTTPS server and ledger), mosquitto over mutual TLS and the whole firmware on MicroPython.

The device runs release 1.5.0 from slot a (as a confirmed update leaves it) and is offered 1.6.0, built
by tools/release.py from a copy of the firmware whose app.boot raises. It downloads, verifies and stages
1.6.0, restarts into the trial, and every trial boot dies in main; boot.py's selector counts each boot
before it runs the set and, once otaboot.MAX_TRIAL_BOOTS are used up, runs 1.5.0 again, which reports the
rollback and feeds.

The unix port runs no boot.py and no watchdog: every life starts through rigs.device.BootingDevice, which
calls otaboot.select as boot.py does, and prints the watchdog it starts on a trial boot; a life whose main
raised ends (on the board it sits at the REPL until that watchdog resets it), and the test starts the next
one, as the reset would."""

import json
import os
import shutil

from cloud.hub.__main__ import main as hub_main
from cloud.topology import THING
from rigs.device import (
    ACTION,
    LEFT_PULSES,
    BootingDevice,
    Observer,
    command,
    dispense_starts,
    rig_config,
    wait_for,
)
from rigs.ota import VERSION, build_release, job_status, update_events
from tools import release
from tools.mqttc import MqttClient

BROKEN = "1.6.0"
BROKEN_BOOT = ("\n\ndef boot(*args, **kwargs):  # this release's main raises at every boot\n"
               "    raise RuntimeError('release %s cannot boot')\n" % BROKEN)
MAX_TRIAL_BOOTS = 3  # firmware/otaboot.py
TRIAL_WATCHDOG = "sim: watchdog 60000 ms"  # otaboot.TRIAL_WATCHDOG_MS: the bound of a trial boot that hangs


def broken_firmware(folder):
    """A copy of this firmware whose app.boot (what main.py and main_unix.py call) raises."""
    shutil.copytree(release.FIRMWARE, folder)
    with open(os.path.join(folder, "app.py"), "a") as f:
        f.write(BROKEN_BOOT)
    return folder


def running_release(flash, releases, version):
    """The flash as a confirmed update to `version` leaves it: the release in slot a, the current set."""
    shutil.copytree(os.path.join(releases, version), os.path.join(flash, "ota", "a"))
    with open(os.path.join(flash, "ota", "state"), "w") as f:
        f.write("a - 0 -\n")


def state(flash):
    with open(os.path.join(flash, "ota", "state")) as f:
        return f.read()


def make_ota(hub, releases, version, household, capsys):
    """`make ota THING=cat-feeder VERSION=version` against the hub; the job id it printed."""
    capsys.readouterr()
    assert hub_main(["ota", THING, version, "--data-dir", hub.data_dir, "--releases", releases,
                     "--https-port", str(hub.https_port), "--household", household]) == 0
    printed = capsys.readouterr().out.split()
    return printed[printed.index("job") + 1]


def test_a_release_whose_main_raises_at_boot_is_rolled_back_within_the_bound_and_the_device_feeds_again(
        tmp_path, pki, broker, ota_hub, capsys):
    keys = str(tmp_path / "keys")
    releases, modulus = build_release(str(tmp_path / "release"), keys)  # 1.5.0, this firmware
    build_release(releases, keys, BROKEN, broken_firmware(str(tmp_path / "broken")))
    household = tmp_path / "household.json"
    household.write_text(json.dumps({"things": [{"thing": THING}]}))
    config = rig_config(broker.port, ota={"release_key": modulus}, telemetry_interval_s=10)
    device = BootingDevice(tmp_path / "flash", pki, config)
    running_release(device.flash, releases, VERSION)
    observer = Observer(pki, broker.port)
    publisher = MqttClient(pki, broker.port, "publisher")
    try:
        device.start().wait_up()
        job = make_ota(ota_hub, releases, BROKEN, str(household), capsys)
        assert device.expect("ota: %s: staged" % job).endswith(
            "staged %s in slot b (0 resumed, connections: 1)" % BROKEN)
        device.expect("ota: %s staged: restarting" % job)
        device.proc.wait(10)
        assert state(device.flash) == "a b 0 -\n"  # 1.6.0 on trial, no boot of it begun

        for boot in range(1, MAX_TRIAL_BOOTS + 1):  # each trial boot counted, then its main raises
            device.restarted()
            device.expect(TRIAL_WATCHDOG)  # the selector's: on the board it resets the REPL the raise left
            assert device.expect("ota: ") == "ota: trying b, boot %d of %d" % (boot, MAX_TRIAL_BOOTS)
            # Read through the pipe (output() would race the thread that pumps it), then the life ends.
            assert device.expect("RuntimeError") == "RuntimeError: release %s cannot boot" % BROKEN
            assert device.proc.wait(10) != 0
            assert state(device.flash) == "a b %d -\n" % boot

        earlier = len(device.output())
        device.restarted()  # the boots are used up: the selector runs 1.5.0 again
        assert device.expect("ota: ") == "ota: b did not connect in %d boots: back to a" % MAX_TRIAL_BOOTS
        device.wait_up()
        assert TRIAL_WATCHDOG not in device.output()[earlier:]  # not a trial: no watchdog from the selector
        assert device.expect("ota: ") == "ota: %s: FAILED rolled back: running %s" % (job, VERSION)
        assert state(device.flash) == "a - 0 b\n"  # 1.5.0 current, b the slot rolled back
        wait_for(lambda: job_status(ota_hub, job)[0] == "FAILED", 10, "the job FAILED on the hub")
        assert json.loads(job_status(ota_hub, job)[1]) == {"reason": "rolled back: running " + VERSION}
        wait_for(lambda: len(update_events(ota_hub)) == 3, 10, "the rollback in the ledger")
        assert [kind for kind, _ in update_events(ota_hub)] == ["UpdateOffered", "UpdateStarted",
                                                                "UpdateRolledBack"]
        assert update_events(ota_hub)[-1][1]["version"] == BROKEN
        assert not os.path.exists(os.path.join(device.flash, "ota", "job"))  # the outcome is out

        observer.telemetry.clear()
        assert observer.wait_for_telemetry(20)["firmware"] == VERSION  # the old firmware runs
        before = len(dispense_starts(device.trace()))
        publisher.publish(ACTION, command("after-rollback-1"), qos=1)
        assert [r["status"] for r in observer.collect(["after-rollback-1"], 15)["after-rollback-1"]] == [
            "dispensed"]
        fed = dispense_starts(device.trace())[before:]
        assert [(pin, duty) for _, pin, duty in fed] == [LEFT_PULSES[:2]]  # SINGLE: the left bowl's gate
        assert device.running()
    finally:
        publisher.close()
        observer.close()
        device.kill()

"""Hardware-in-the-loop through the button: `make flash` to the board over its serial port, boot it,
press its button, and watch the servos and the wire.

On the simulated board (tools.sim_board) the button is the virtual one (a level file in the board's
flash) and the servos are the sim HAL's trace. Booting is what a reset does on a board: the firmware
that was deployed (compiled main_unix and modules, config.json, DER certificates) starts from that
flash. On a real board (BOARD_PORT) these tests are skipped: driving the HIL loopback wire from the
host needs the board's REPL, which the running firmware holds (see hardware/README.md).
"""

import json
import os
import subprocess
import sys
import time

import pytest

from cloud.hub.broker import Broker
from cloud.hub.pki import Pki
from cloud.hub.processes import free_port
from firmware.press import press_id
from rigs.device import Device, dispense_starts, rig_config
from tests.hil.conftest import REAL_BOARD
from tools import board
from tools.mqttc import MqttClient
from tools.sim_board import press_button

pytestmark = pytest.mark.skipif(
    bool(REAL_BOARD), reason="virtual button and servo trace: simulated board only"
)
MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")
BOWL_PINS = {"SINGLE": [3], "DOUBLE": [4], "LONG": [3, 4]}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp("pki")), "cat-feeder").ensure()


@pytest.fixture
def broker(pki, tmp_path):
    with Broker(pki, str(tmp_path / "broker")) as running:
        yield running


def deploy(sim_board, pki, tmp_path, port):
    """`make flash` to the simulated board: the development PKI's DER files, a config for the broker."""
    serial, flash = sim_board
    config = tmp_path / "config.json"
    config.write_text(json.dumps(rig_config(port, button={"pin": 5})))
    board.deploy(serial, str(config), pki.dir)
    return Device(flash, pki, json.loads(config.read_text()), deployed=True)


def pins_moved(device, count, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while len(dispense_starts(device.trace())) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pin for _, pin, _ in dispense_starts(device.trace())]


def test_deploy_boot_and_every_gesture_from_the_button_to_the_servos_and_the_wire(
    sim_board, pki, broker, tmp_path
):
    device = deploy(sim_board, pki, tmp_path, broker.port)
    presses = MqttClient(pki, broker.port, "observer")
    presses.subscribe("cat-feeder/+/button", qos=1)
    device.start()
    try:
        device.wait_up()
        moved = []
        for event in ("SINGLE", "DOUBLE", "LONG"):
            time.sleep(0.5)  # the button is not read while a dispense runs: press once it is over
            press_button(device.flash, event)
            moved += BOWL_PINS[event]
            assert pins_moved(device, len(moved)) == moved, device.output()
            topic, payload, _ = presses.receive(timeout_s=10)
            message = json.loads(payload)
            assert (topic, message["event"]) == ("cat-feeder/cat-feeder/button", event)
            assert "button: %s %s" % (
                event,
                press_id("cat-feeder", event, message["at"], message["seq"]),
            ) in (device.output())
    finally:
        device.kill()
        presses.close()


def test_with_the_network_down_the_button_still_feeds(sim_board, pki, tmp_path):
    device = deploy(sim_board, pki, tmp_path, free_port())  # nothing listens there
    device.start()
    try:
        device.expect("app: connect failed")
        press_button(device.flash, "LONG")
        assert pins_moved(device, 2) == [3, 4]
    finally:
        device.kill()


def test_the_repl_runs_the_deployed_button_classifier(sim_board, pki, tmp_path):
    serial, _ = sim_board
    deploy(sim_board, pki, tmp_path, free_port())
    code = (
        "from button import Classifier; c = Classifier(); c.sample(0, 0); c.sample(40, 0); "
        "print(c.sample(1000, 0))"
    )
    for _ in range(3):  # the port may still be settling after the deploy's reset
        done = subprocess.run(
            [MPREMOTE, "connect", serial, "exec", code], capture_output=True, text=True, timeout=30
        )
        if done.returncode == 0:
            break
        time.sleep(1)
    assert done.stdout.split() == ["LONG"], done.stderr

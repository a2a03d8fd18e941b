"""The bring-up check for a first real board, rehearsed on the simulated board in every `make test`.

    make hil BOARD_PORT=/dev/ttyACM0 BOARD_HUB=<this machine's LAN address> WIFI_SSID=... WIFI_PASSWORD=...

deploys the firmware as `make flash` does (its MicroPython version checked), configured for a broker
on this machine (mosquitto, mutual TLS, listening on every interface, its certificate naming
BOARD_HUB), then walks through the board's first minutes and prints a checklist, in about three
minutes of which one or two are yours:
1. boot: both gates move to their rest angle (watch them), then Wi-Fi, NTP (the TLS handshake
   checks certificate dates), TLS and MQTT: the board's retained `online` status reaches the broker;
2. a SINGLE command end to end: the left gate opens to its dispense angle and closes (watch it),
   and the board answers `dispensed`;
3. the button's edges: press the button once when told; the board publishes a SINGLE press and
   feeds from the left bowl (the button is read per edge: a press and a release make a SINGLE);
4. a power cut: unplug the USB cable when told and plug it back in; the board comes back online
   and feeds nothing again for the command it already answered.
On the simulated board (tools/sim_board.py) the same steps run unattended: the servo angles are
read from the servo trace, the button is the virtual one, the power cut is a SIGKILL, and Wi-Fi
and NTP are marked n/a (the unix port has no radio; the host's clock is the board's).
"""

import json
import os
import time

import pytest

from cloud.hub.broker import Broker
from cloud.hub.pki import Pki
from rigs.device import (
    ACTION,
    LEFT,
    LEFT_PULSES,
    RIGHT,
    RIGHT_PULSES,
    STATES,
    Device,
    command,
    rig_config,
    wait_for,
)
from tests.hil.conftest import REAL_BOARD
from tools import board
from tools.mqttc import MqttClient
from tools.sim_board import press_button

HUB = os.environ.get("BOARD_HUB", "localhost")
BOOT_S = 120 if REAL_BOARD else 15  # Wi-Fi, NTP and an RSA handshake on the C3, or the unix port
HUMAN_S = 60  # for each thing a person is asked to do


class Checklist:
    """The lines printed at the end (and when a step fails): `ok`, `n/a` or `watch` (a person sees it)."""

    def __init__(self, capsys):
        self.capsys = capsys
        self.lines = []

    def check(self, status, item, detail=""):
        self.lines.append("  [%-5s] %s%s" % (status, item, ": " + detail if detail else ""))

    def say(self, text):
        with self.capsys.disabled():
            print("\nbring-up: " + text, flush=True)

    def show(self):
        where = "the board on %s" % REAL_BOARD if REAL_BOARD else "the simulated board"
        self.say("checklist for %s\n%s" % (where, "\n".join(self.lines)))


class States:
    """The cloud's view: the board's statuses, results and button presses, as they arrive."""

    def __init__(self, pki, port):
        self.client = MqttClient(pki, port, "observer", keepalive=600)
        assert self.client.subscribe(STATES, 1) == 1
        assert self.client.subscribe("cat-feeder/+/button", 1) == 1

    def wait(self, what, predicate, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = self.client.receive(max(0.1, min(1.0, deadline - time.monotonic())))
            if message is not None and predicate(message[0], json.loads(message[1])):
                return json.loads(message[1])
        raise AssertionError("bring-up: no %s within %d s" % (what, timeout_s))

    def online(self, timeout_s):
        return self.wait("online status", lambda topic, body: body.get("status") == "online", timeout_s)

    def result(self, command_id, timeout_s):
        return self.wait("result for %s" % command_id,
                         lambda topic, body: body.get("type") == "result" and body.get("id") == command_id,
                         timeout_s)

    def results_for(self, command_id, quiet_s):
        found = []
        deadline = time.monotonic() + quiet_s
        while time.monotonic() < deadline:
            message = self.client.receive(0.2)
            if message is not None and json.loads(message[1]).get("id") == command_id:
                found.append(message)
        return found

    def press(self, timeout_s):
        return self.wait("button press", lambda topic, body: topic.endswith("/button"), timeout_s)


class SimulatedBoard:
    """tools.sim_board with the deployed firmware booted from its flash, as a reset boots a board."""

    def __init__(self, flash, pki, config):
        self.device = Device(flash, pki, config, deployed=True)

    def boot(self):
        self.device.start()

    def press(self, checklist):
        press_button(self.device.flash, "SINGLE")

    def power_cut(self, checklist):
        self.device.kill()
        self.device.start()

    def pulses(self, pin):
        return [duty for _, written_pin, duty in self.device.trace() if written_pin == pin]

    def stop(self):
        self.device.kill()


class RealBoard:
    """The board at BOARD_PORT: `make flash`'s reset boots it; a person watches, presses, unplugs."""

    def __init__(self, port):
        self.port = port

    def boot(self):
        pass  # the deploy ended with a reset

    def press(self, checklist):
        checklist.say("press the feeder's button once, briefly, now (within %d s)" % HUMAN_S)

    def power_cut(self, checklist):
        checklist.say("unplug the board's USB cable now, count to three, plug it back in (within %d s)"
                      % HUMAN_S)
        deadline = time.monotonic() + HUMAN_S
        while os.path.exists(self.port):
            assert time.monotonic() < deadline, "bring-up: %s never went away" % self.port
            time.sleep(0.1)

    def pulses(self, pin):
        return None  # no trace: a person watches

    def stop(self):
        pass


@pytest.fixture
def hub_pki(tmp_path):
    return Pki(str(tmp_path / "pki"), "cat-feeder", broker_hosts=(HUB,)).ensure()


@pytest.fixture
def hub_broker(hub_pki, tmp_path):
    with Broker(hub_pki, str(tmp_path / "broker"), bind="0.0.0.0" if REAL_BOARD else "127.0.0.1") as running:
        yield running


def bringup_config(tmp_path, port):
    config = rig_config(port, button={"pin": 5}, mqtt={"host": HUB})
    if REAL_BOARD:
        config["wifi"] = {"ssid": os.environ["WIFI_SSID"], "password": os.environ.get("WIFI_PASSWORD", "")}
        del config["sim"]
        config["mqtt"].update(timeout_ms=10000, keepalive_s=60)  # the defaults: a real network
        for servo in config["servos"].values():
            servo["dwell_ms"] = 600  # long enough to see the gate open
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path, config


@pytest.mark.skipif(bool(REAL_BOARD) and not (os.environ.get("WIFI_SSID") and os.environ.get("BOARD_HUB")),
                    reason="a real board's bring-up needs WIFI_SSID and BOARD_HUB (this machine's address)")
def test_bring_up_a_board_from_boot_to_a_power_cut(request, tmp_path, hub_pki, hub_broker, capsys):
    serial = REAL_BOARD or request.getfixturevalue("sim_board")[0]
    config_path, config = bringup_config(tmp_path, hub_broker.port)
    states = States(hub_pki, hub_broker.port)
    checklist = Checklist(capsys)
    board.deploy(serial, str(config_path), hub_pki.dir)
    version = [line for line in capsys.readouterr().out.splitlines() if line.startswith("board: MicroPython")]
    checklist.check("ok", "MicroPython release supported", version[0][len("board: "):])
    rig = RealBoard(serial) if REAL_BOARD else SimulatedBoard(request.getfixturevalue("sim_board")[1],
                                                                hub_pki, config)
    try:
        if REAL_BOARD:
            checklist.say("watch the gates: both move to their rest angle as the board boots")
        rig.boot()
        states.online(BOOT_S)
        rest = rig.pulses(LEFT_PULSES[0]), rig.pulses(RIGHT_PULSES[0])
        if rest[0] is None:
            checklist.check("watch", "servos at rest angle", "left %d deg, right %d deg at boot"
                            % (LEFT["rest_deg"], RIGHT["rest_deg"]))
            checklist.check("ok", "Wi-Fi joined, NTP set", "the board reached the broker at %s" % HUB)
        else:
            assert rest[0][0] == LEFT_PULSES[2] and rest[1][0] == RIGHT_PULSES[2], rest
            checklist.check("ok", "servos at rest angle", "first pulses %d / %d ns" % (rest[0][0],
                                                                                         rest[1][0]))
            checklist.check("n/a", "Wi-Fi joined, NTP set", "no radio on the unix port")
        checklist.check("ok", "TLS and MQTT", "retained online status received (mutual TLS, CERT_REQUIRED)")

        if REAL_BOARD:
            checklist.say("watch the left gate: it opens to its dispense angle and closes")
        mqtt = MqttClient(hub_pki, hub_broker.port, "publisher")
        mqtt.publish(ACTION, command("bringup-1", "SINGLE"), qos=1)
        assert states.result("bringup-1", 30)["status"] == "dispensed"
        moved = rig.pulses(LEFT_PULSES[0])
        if moved is None:
            checklist.check("watch", "servo at dispense angle", "left %d deg" % LEFT["dispense_deg"])
        else:
            assert LEFT_PULSES[2] in moved[moved.index(LEFT_PULSES[1]):], moved  # opened, then closed
            checklist.check("ok", "servo at dispense angle", "left %d ns, then back to rest" % LEFT_PULSES[1])
        checklist.check("ok", "a command end to end", "SINGLE -> dispensed")

        rig.press(checklist)
        press = states.press(HUMAN_S if REAL_BOARD else 10)
        assert press["event"] == "SINGLE", press
        checklist.check("ok", "button edges", "press and release classified as SINGLE and published")

        fed = rig.pulses(LEFT_PULSES[0])
        if fed is not None:  # the press's own dispense (a second one) over, the gate detached
            wait_for(lambda: rig.pulses(LEFT_PULSES[0]).count(LEFT_PULSES[1]) == 2
                     and rig.pulses(LEFT_PULSES[0])[-1] == 0, 10, "the press's dispense")
            fed = rig.pulses(LEFT_PULSES[0])
        rig.power_cut(checklist)
        states.online(BOOT_S + HUMAN_S if REAL_BOARD else BOOT_S)
        assert states.results_for("bringup-1", 3) == []  # nothing answered again
        if fed is not None:  # nor fed: the gate only parked again
            assert rig.pulses(LEFT_PULSES[0])[len(fed):] == [LEFT_PULSES[2], 0]
        checklist.check("ok", "a power cut", "back online; the answered command not fed again")
        mqtt.close()
    finally:
        rig.stop()
        states.client.close()
        checklist.show()

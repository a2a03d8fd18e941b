"""Shared helpers for the end-to-end device tests (test_device_*.py) and bench/device.py.

The device is the whole firmware (firmware/main_unix.py) on the real MicroPython interpreter,
in a folder that acts as its flash (tools/device.py prepares it), against mosquitto over mutual
TLS. The cloud side is tools.mqttc: the cloud publisher sends commands, the cloud observer
collects results from the thing's cat-feeder/<thing>/states.

- `scratch_broker(**pki_options)`: (workdir, pki, broker) in a temp dir, for benchmarks.
- `rig_config(port, **sections)`: a device config with short timeouts, a 2 s backoff cap, the
  largest feeding cap and a quick, distinctively calibrated servo pair (see LEFT / RIGHT for the
  pulse widths).
- `Device(flash_dir, pki, config)`: `.start()`, `.expect(prefix)`, `.wait_up()`, `.output()`,
  `.kill()` (SIGKILL), `.configure(config)` (for the next start),
  `.trace()` -> [(ticks_us, pin, duty_ns)].
- `BootingDevice(...)`: a Device whose lives begin with boot.py's selector (updates over the air);
  `.restarted()` after main ended.
- `Observer(pki, port, thing=THING)`: persistent-session observer of that thing's states topic;
  `.collect(ids, timeout_s)` waits until every
  id has a result; `.results` by seq (`.received_at` their first arrival, time.monotonic()),
  `.deliveries` (repeats included), `.telemetry`, `.wait_for_telemetry()`, `.by_id()`, `.reconnect()`
  after a broker restart.
- `command(id, event, issued_at=None, ttl=None)`: a v1 command payload.
- `dispense_starts(trace)`: the PWM writes that began a bowl's dispense move.
- `wait_for(predicate, timeout_s, what)`: poll until predicate() is true, or fail naming what.
- `PARK_WRITES`: the (pin, duty_ns) writes every boot begins with (gates to rest, detached).
"""

import contextlib
import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time

from cloud.hub.broker import Broker
from cloud.hub.pki import Pki
from cloud.topology import THING, action_topic, states_topic
from tools import device as device_tool
from tools.mqttc import MqttClient, MqttError

ACTION = action_topic(THING)
STATES = states_topic(THING)
# Calibration chosen so every pulse width is distinct: 10 us per degree on both servos.
LEFT = {"pin": 3, "min_us": 500, "max_us": 2300, "rest_deg": 0, "dispense_deg": 30, "dwell_ms": 20}
RIGHT = {"pin": 4, "min_us": 700, "max_us": 2500, "rest_deg": 20, "dispense_deg": 60, "dwell_ms": 20}
# (pin, dispense pulse ns, rest pulse ns) per bowl bit: min_us + 10 us * degrees.
LEFT_PULSES = (3, 800000, 500000)
RIGHT_PULSES = (4, 1300000, 900000)
# What every boot writes first (app.boot parks the gates): each servo to rest, then detached.
PARK_WRITES = [(LEFT_PULSES[0], LEFT_PULSES[2]), (LEFT_PULSES[0], 0), (RIGHT_PULSES[0], RIGHT_PULSES[2]),
               (RIGHT_PULSES[0], 0)]
BACKOFF_CAP_MS = 2000
UP_TIMEOUT_S = 15


@contextlib.contextmanager
def scratch_broker(**pki_options):
    """For benchmarks: a temp dir with a fresh development PKI and a running broker; yields
    (workdir, pki, broker) and removes it all afterwards."""
    with tempfile.TemporaryDirectory() as workdir:
        pki = Pki(os.path.join(workdir, "pki"), **pki_options).ensure()
        broker = Broker(pki, os.path.join(workdir, "broker")).start()
        try:
            yield workdir, pki, broker
        finally:
            broker.stop()


def rig_config(port, **sections):
    mqtt = {"keepalive_s": 10, "timeout_ms": 2000, "backoff_base_ms": 200, "backoff_cap_ms": BACKOFF_CAP_MS}
    mqtt.update(sections.pop("mqtt", {}))
    sections.setdefault("servos", {"left": dict(LEFT), "right": dict(RIGHT)})
    # These tests stream many commands; the cap has its own test (test_device_cap.py).
    sections.setdefault("feeding", {"max_portions_per_hour": 128, "max_portions_per_day": 128})
    sim = {"trace": device_tool.TRACE, "button": device_tool.BUTTON_LEVEL}
    sim.update(sections.pop("sim", {}))
    return device_tool.device_config(port, mqtt=mqtt, sim=sim, **sections)


def command(command_id, event="SINGLE", issued_at=None, ttl=None):
    body = {"v": 1, "id": command_id, "event": event,
            "issued_at": int(time.time()) if issued_at is None else issued_at}
    if ttl is not None:
        body["ttl"] = ttl
    return json.dumps(body).encode()


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.005)


def dispense_starts(trace):
    """Writes of a dispense pulse: one per bowl whose gate began to open."""
    dispense = {LEFT_PULSES[0]: LEFT_PULSES[1], RIGHT_PULSES[0]: RIGHT_PULSES[1]}
    return [write for write in trace if dispense.get(write[1]) == write[2]]


class Device:
    def __init__(self, flash_dir, pki, config, heapsize="128K", compiled=True, deployed=False):
        """deployed: flash_dir already holds the firmware and config (`make flash` put it there).
        compiled (default): the modules as .mpy, as the board and `make device` run them; with source,
        each import compiles on the device's heap, and since the schedule (issue 20) a feeder's boot no
        longer fits 128K that way."""
        if deployed:
            self.flash = str(flash_dir)
        else:
            self.flash = device_tool.prepare_flash(str(flash_dir), pki, config, fresh=True, compiled=compiled)
        self.trace_path = os.path.join(self.flash, config["sim"]["trace"])
        self.heapsize = heapsize
        self.proc = None
        self.lines = queue.Queue()
        self.log = []
        self.lives = 0

    def configure(self, config):
        """Replace config.json on the flash (takes effect at the next start)."""
        with open(os.path.join(self.flash, "config.json"), "w") as f:
            json.dump(config, f)

    def start(self):
        self.proc = device_tool.start(self.flash, self.heapsize, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
        self.lives += 1
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        return self

    def _pump(self, proc):
        for line in proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix, timeout_s=UP_TIMEOUT_S):
        """The next output line starting with prefix; earlier lines go to .log."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("timed out waiting for %r; device said %r"
                                     % (prefix, self.log[-20:])) from None
            if line is None:
                raise AssertionError("device exited (rc %s) waiting for %r; it said %r"
                                     % (self.proc.poll(), prefix, self.log[-20:]))
            self.log.append(line)
            if line.startswith(prefix):
                return line

    def output(self):
        """Every line the device printed so far (the current life's unread lines are read now)."""
        while not self.lines.empty():
            line = self.lines.get()
            if line is not None:
                self.log.append(line)
        return self.log

    def wait_up(self, timeout_s=UP_TIMEOUT_S):
        return self.expect("app: up", timeout_s)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL: no cleanup runs on the device, as with a power cut."""
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
        self._reap()

    def _reap(self):
        if self.proc is not None:
            self.proc.wait(10)
            self.proc.stdout.close()
            self.proc = None
            self.lines = queue.Queue()  # the next life's lines only

    def trace(self):
        if not os.path.exists(self.trace_path):
            return []
        with open(self.trace_path) as f:
            # A line torn by SIGKILL mid-write has fewer than three fields: the write never completed.
            return [tuple(int(x) for x in line.split()) for line in f if len(line.split()) == 3]


# boot.py's selector on the unix port (which runs no boot.py): the board's call, before main_unix, so an
# update staged in one life runs in the next (otaboot.py). Its watchdog cannot fire here: starting it prints
# `sim: watchdog <ms> ms`, and a life that ends (a main that raised: on the board the watchdog resets it) is
# restarted by the test (`restarted`).
UNIX_BOOT = ("import sys, bootonly; bootonly.call('otaboot', 'select', '.', sys.path, "
             "lambda timeout: print('sim: watchdog %d ms' % timeout)); import main_unix")


class BootingDevice(Device):
    """A Device whose every life begins with boot.py's selector (updates over the air)."""

    def start(self):
        self.proc = subprocess.Popen(
            [device_tool.MICROPYTHON, "-X", "heapsize=" + self.heapsize, "-c", UNIX_BOOT], cwd=self.flash,
            env=dict(os.environ, MICROPYPATH=device_tool.FLASH_PATH), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self.lives += 1
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        return self

    def restarted(self, timeout_s=10):
        """After the firmware ended main (SystemExit: a soft reset on the board): the next life."""
        self.proc.wait(timeout_s)
        self._reap()
        return self.start()


class Observer:
    """The cloud observer on a persistent session: results published while it reconnects are kept."""

    def __init__(self, pki, port, client_id="rig-observer", thing=THING):
        self.pki = pki
        self.topic = states_topic(thing)
        self.port = port
        self.client_id = client_id
        self.results = {}  # seq -> result body
        self.received_at = {}  # seq -> time.monotonic() of its first arrival
        self.deliveries = []  # every result body received, resends included
        self.telemetry = []
        self.client = None
        self.reconnect()

    def reconnect(self, timeout_s=10):
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.client = MqttClient(self.pki, self.port, "observer", client_id=self.client_id,
                                         clean_session=False)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert self.client.subscribe(self.topic, 1) == 1

    def pump(self, timeout_s):
        """Receive for up to timeout_s; False when the connection broke (e.g. the broker died)."""
        try:
            message = self.client.receive(timeout_s)
        except (OSError, MqttError):  # MqttError: EOF
            return False
        if message is not None:
            body = json.loads(message[1])
            if body.get("type") == "result":
                self.deliveries.append(body)
                self.received_at.setdefault(body["seq"], time.monotonic())
                earlier = self.results.setdefault(body["seq"], body)
                assert earlier == body, "one seq, two contents: %r, %r" % (earlier, body)
            elif body.get("type") == "telemetry":
                self.telemetry.append(body)
        return True

    def collect(self, ids, timeout_s=30):
        """Receive until every id in ids has at least one result."""
        deadline = time.monotonic() + timeout_s
        wanted = set(ids)
        while not wanted <= set(self.by_id()):
            remaining = deadline - time.monotonic()
            missing = sorted(wanted - set(self.by_id()))
            assert remaining > 0, "no result for %r (have %d results)" % (missing[:10], len(self.results))
            if not self.pump(min(remaining, 1.0)):
                time.sleep(0.2)
                self.reconnect()
        return self.by_id()

    def wait_for_telemetry(self, timeout_s=15):
        """The latest telemetry message, waiting for one when none has arrived yet."""
        deadline = time.monotonic() + timeout_s
        while not self.telemetry:
            assert time.monotonic() < deadline, "no telemetry"
            self.pump(0.5)
        return self.telemetry[-1]

    def by_id(self):
        """id -> [results for it, in seq order]."""
        grouped = {}
        for seq in sorted(self.results):
            grouped.setdefault(self.results[seq]["id"], []).append(self.results[seq])
        return grouped

    def assert_seq_gap_free(self):
        # A fresh flash: the outbox numbers results from 1.
        seqs = sorted(self.results)
        assert seqs == list(range(1, len(seqs) + 1)), "seq gaps: %r" % seqs

    def close(self):
        try:
            self.client.close()
        except OSError:
            pass

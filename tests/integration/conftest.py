"""Shared fixtures for the integration tests: real mosquitto over mutual TLS, real MicroPython.

- `pki` (session): cloud.hub.pki.Pki generated once into a temp folder (thing "cat-feeder").
- `broker`: a fresh cloud.hub.broker.Broker per test (own port, state dir, persistence); stopped after.
- `proxy`: a tools.faultproxy.FaultProxy in front of `broker`.
- `hub`: the self-hosted hub (cloud.hub.hub.Hub) on `broker`, stopped after.
- `ota_hub`: the same with its releases' HTTPS server (rigs.ota.start_hub, `.https_port`), stopped after.
- `observer`: a rigs.device.Observer (cloud observer, persistent session) on `broker`.
- `mqtt`: factory `mqtt(identity="publisher", **kw)` -> tools.mqttc.MqttClient connected to
  `broker`, closed after the test.
- `device`: a stand-in device on `broker` (the device certificate, client id `cat-feeder`) subscribed
  to its action topic: it presses its button, reads commands, publishes states.
- `device_config(port, **mqtt_overrides)`: factory writing the device's DER files and returning
  the `mqtt` config dict (host localhost, short timeouts) as the firmware reads it.
- `run_mpy(script, *args, timeout=...)`: run a MicroPython script with
  MICROPYPATH in the board's order (tools.device.board_path: firmware, .frozen with the stock
  image's umqtt, lib), returning subprocess.CompletedProcess (text).
- `link_device(port, expect_up=True, **mqtt_overrides)`: factory starting link_driver.py (firmware/link.py
  alone, events on stdout, commands on stdin; see that file) with `device_config(port, ...)`.
- `mpy_process(script, *args)`: factory for a running `MpyProcess` (line-oriented stdin/stdout with
  `expect(prefix, timeout_s)`, `send(line)`, `stop()`); every one is killed after the test.
Note: this MicroPython unix build aborts ("FATAL: uncaught NLR") on a command-line argument of 256
bytes or more, so pass configs as file paths.
"""

import json
import os
import queue
import subprocess
import threading
import time

import pytest

from cloud.hub.broker import Broker
from cloud.hub.hub import Hub
from cloud.hub.pki import Pki
from cloud.topology import THING, action_topic, states_topic
from rigs.device import Observer
from rigs.ota import start_hub
from tools.device import board_path
from tools.faultproxy import FaultProxy
from tools.mqttc import MqttClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
MICROPYPATH = board_path(os.path.join(ROOT, "firmware"))
LINK_DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "link_driver.py")


def mpy_env():
    env = dict(os.environ)
    env["MICROPYPATH"] = MICROPYPATH
    return env


def start_mpy(script, *args, heapsize="256K", **popen_kwargs):
    """Start `micropython script args...` on the firmware's import path (stdout/stderr piped, text)."""
    popen_kwargs.setdefault("stdout", subprocess.PIPE)
    popen_kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        [MICROPYTHON, "-X", "heapsize=" + heapsize, script, *[str(a) for a in args]],
        env=mpy_env(), cwd=ROOT, text=True, **popen_kwargs,
    )


def run_mpy_script(script, *args, timeout=60, heapsize="256K"):
    return subprocess.run(
        [MICROPYTHON, "-X", "heapsize=" + heapsize, script, *[str(a) for a in args]],
        env=mpy_env(), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )


class MpyProcess:
    """A MicroPython process spoken to by lines; stderr is kept for failure messages."""

    def __init__(self, script, *args, heapsize="256K"):
        self.proc = start_mpy(script, *args, heapsize=heapsize, stdin=subprocess.PIPE, bufsize=1)
        self.lines = queue.Queue()
        self.seen = []
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix, timeout_s=10.0):
        """The next stdout line starting with prefix (earlier lines are kept in .seen)."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(0.0, remaining))
            except queue.Empty:
                line = None
                remaining = -1
            if line is None:
                why = "timed out" if remaining < 0 else "process ended (rc %s)" % self.proc.poll()
                raise AssertionError("%s waiting for %r; saw %r; stderr: %s"
                                     % (why, prefix, self.seen[-20:], self.stderr_tail()))
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stderr_tail(self):
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read()[-2000:]

    def stop(self, timeout_s=5):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout_s)
        self.pump.join(timeout_s)  # it reads stdout to its end: closing it under the read raised ValueError
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass


@pytest.fixture
def mpy_process():
    processes = []

    def start(script, *args, **kwargs):
        process = MpyProcess(script, *args, **kwargs)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp("pki")), THING).ensure()


@pytest.fixture
def broker(pki, tmp_path):
    instance = Broker(pki, str(tmp_path / "broker")).start()
    yield instance
    instance.stop()


@pytest.fixture
def observer(pki, broker):
    instance = Observer(pki, broker.port)
    yield instance
    instance.close()


@pytest.fixture
def hub(pki, broker, tmp_path):
    """The self-hosted hub (cloud/hub/) on `broker`, with its data in a temp folder; stopped after."""
    instance = Hub(str(tmp_path / "hub"), pki, "127.0.0.1", broker.port).start()
    yield instance
    instance.stop()


@pytest.fixture
def ota_hub(pki, broker, tmp_path):
    """The hub serving releases over HTTPS too (updates over the air: test_device_ota_*.py)."""
    instance = start_hub(str(tmp_path / "hub"), pki, broker.port)
    yield instance
    instance.stop()


@pytest.fixture
def proxy(broker):
    instance = FaultProxy(broker.port).start()
    yield instance
    instance.stop()


@pytest.fixture
def mqtt(pki, broker):
    clients = []

    def connect(identity="publisher", **kwargs):
        client = MqttClient(pki, kwargs.pop("port", broker.port), identity, **kwargs)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        try:
            client.close()
        except OSError:
            pass


@pytest.fixture
def device(mqtt):
    client = mqtt("device", client_id=THING)
    assert client.subscribe(action_topic(THING), 1) == 1
    return client


@pytest.fixture
def device_config(pki):
    """`device_config(port, ca="ca", identity="device", **overrides)` -> the firmware's mqtt dict."""

    def make(port, ca="ca", identity="device", **overrides):
        config = {
            "host": "localhost",
            "port": port,
            "keepalive_s": 10,
            "ca": pki.path(ca + ".der"),
            "cert": pki.path(identity + ".crt.der"),
            "key": pki.path(identity + ".key.der"),
            "action_topic": action_topic(THING),
            "states_topic": states_topic(THING),
            "timeout_ms": 2000,
            "backoff_base_ms": 200,
            "backoff_cap_ms": 2000,
        }
        config.update(overrides)
        return config

    return make


@pytest.fixture
def run_mpy():
    return run_mpy_script



@pytest.fixture
def link_device(tmp_path, device_config, mpy_process):
    def start(port, expect_up=True, **overrides):
        path = tmp_path / ("mqtt-%d.json" % len(list(tmp_path.glob("mqtt-*.json"))))
        path.write_text(json.dumps(device_config(port, **overrides)))
        process = mpy_process(LINK_DRIVER, str(path))
        process.expect("ready")
        if expect_up:
            process.expect("up 1")
        return process

    return start

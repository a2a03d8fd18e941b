"""The firmware against its peers, measured side by side: the same machine, MicroPython unix port,
broker (mosquitto) and mutual TLS. Reruns the comparison table of issue 11.

    .venv/bin/python bench/peers.py          (make bench runs it)

Peers are fetched at setup time by tools/setup/fetch_umqtt.py into .deps/peers (never committed) and
compiled with mpy-cross as the firmware is (tools/board.py's compile step):
- umqtt.robust 1.0 (with umqtt.simple 1.3.4 beside it), run by bench/peer_clients/umqtt_robust_mpy.py:
  subscribe at QoS 1, a callback per message;
- mqtt_as 0.8.3 (Peter Hinch's micropython-mqtt, its mqtt_as/ package), run by
  bench/peer_clients/mqtt_as_mpy.py with the board twin (tests/board_twin/) standing in for the
  board's machine and network modules. It is on none of the registries setup can reach (PyPI's
  nearest, micropython-mqtt 0.7b4, is mqtt_async.py, a 2020 fork), so it is measured only where
  a checkout is at hand: MQTT_AS_DIR names the folder holding its mqtt_as/ package (default
  .deps/peers). Without one it is reported as not measured.

Measures, each from one run:
1. publish -> callback (peer) or servo start (firmware), one message at a time, p50 / p99;
2. smallest `-X heapsize` (4K steps) for TLS + MESSAGES messages (the peer; the firmware's full
   session is bisected by bench/device.py);
3. broker back -> message delivered: the broker is stopped while the client is connected,
   started again, and a message published at once; median of RESTARTS rounds. A client that
   gets nothing within LINE_TIMEOUT_S is reported so, and its rounds end there (mqtt_as on the
   unix port: an orderly broker shutdown ends its reader task with an AssertionError, "Empty
   response", which it does not catch, and it did not recover within 150 s when tried).
Both ends read CLOCK_MONOTONIC (MicroPython's ticks_us on the unix port, time.monotonic_ns here).
"""

import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.device import SESSION_COMMANDS, Session, percentile  # noqa: E402
from bench.heap_bisection import smallest_heap_k  # noqa: E402
from rigs.device import ACTION, scratch_broker  # noqa: E402
from tools import board  # noqa: E402  (the deploy's own compile step)
from tools.mqttc import MqttClient  # noqa: E402

PEERS = os.path.join(ROOT, ".deps", "peers")
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
PEER_CLIENTS = os.path.join(ROOT, "bench", "peer_clients")
MQTT_AS_DIR = os.environ.get("MQTT_AS_DIR", PEERS)
MESSAGES = 500
RESTARTS = 5
HEAP_LOW_K, HEAP_HIGH_K = 16, 128
# Longer than any step a live client takes: a connect (mqtt_as waits 2 s between its first clean
# and its persistent connect) or a reconnect after a broker restart (mqtt_as: ~8 s).
LINE_TIMEOUT_S = 30


class PeerKind:
    """A peer client: its name, its MicroPython script in bench/peer_clients, the library it runs
    (a folder of source, compiled with mpy-cross as the firmware is, into `package` if given) and
    stand-in modules it needs on the unix port."""

    def __init__(self, name, script, library, package="", standins=None):
        self.name, self.script, self.library = name, script, library
        self.package, self.standins = package, standins
        self.micropypath = None  # set by compile_into

    def compile_into(self, workdir):
        target = os.path.join(workdir, "lib-" + self.script[:-3])
        board.stage_modules(self.library, os.path.join(target, self.package))
        self.micropypath = target + (":" + self.standins if self.standins else "")


ROBUST = PeerKind("umqtt.robust", "umqtt_robust_mpy.py", PEERS)
MQTT_AS = PeerKind("mqtt_as", "mqtt_as_mpy.py", os.path.join(MQTT_AS_DIR, "mqtt_as"), package="mqtt_as",
                   standins=os.path.join(ROOT, "tests", "board_twin"))


class Peer:
    """A peer client in a MicroPython process, subscribed to the action topic as the device."""

    def __init__(self, kind, workdir, pki, port, heapsize="256K"):
        self.kind = kind
        config = {"host": "localhost", "port": port, "client_id": "peer-" + kind.name.replace(".", "-"),
                  "topic": ACTION, "ca": pki.path("ca.der"), "cert": pki.path("device.crt.der"),
                  "key": pki.path("device.key.der")}
        path = os.path.join(workdir, "peer.json")
        with open(path, "w") as f:
            json.dump(config, f)
        env = dict(os.environ, MICROPYPATH=kind.micropypath + ":.frozen")
        self.proc = subprocess.Popen([MICROPYTHON, "-X", "heapsize=" + heapsize,
                                      os.path.join(PEER_CLIENTS, kind.script), path],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = queue.Queue()  # the client's output, line by line; "" once it exited
        threading.Thread(target=self._read_lines, daemon=True).start()
        self.publisher = MqttClient(pki, port, "publisher")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def line(self):
        """The client's next line, or None when it exited or fell silent for LINE_TIMEOUT_S (an
        asyncio client whose task died of a MemoryError goes on running, and says nothing)."""
        try:
            line = self.lines.get(timeout=LINE_TIMEOUT_S)
        except queue.Empty:
            self.proc.kill()
            return None
        return line.split() if line else None

    def _read_lines(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def wait_up(self):
        while True:
            words = self.line()
            if words is None or words == ["up"]:
                return words is not None

    def received(self, payload):
        """The client's ticks_us when its callback got `payload`, or None when it exited or fell silent."""
        while True:
            words = self.line()
            if words is None:
                return None
            if words[:2] == ["rx", payload]:
                return int(words[2])

    def send(self, n):
        """Publish message n; return (publish us, callback us) or None when the client died."""
        published_us = time.monotonic_ns() // 1000
        self.publisher.publish(ACTION, b"%d" % n, 1)
        received_us = self.received(str(n))
        return None if received_us is None else (published_us, received_us)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        try:
            self.publisher.close()
        except OSError:
            pass


def peer_latencies(kind, workdir, pki, broker):
    with Peer(kind, workdir, pki, broker.port) as peer:
        assert peer.wait_up(), "%s did not come up" % kind.name
        values = []
        for n in range(MESSAGES):
            sent = peer.send(n)
            if sent is None:
                raise SystemExit("bench: %s exited at message %d" % (kind.name, n))
            values.append((sent[1] - sent[0]) / 1000)
        return values


def peer_runs(kind, workdir, pki, broker, heap_k):
    with Peer(kind, workdir, pki, broker.port, heapsize="%dK" % heap_k) as peer:
        return peer.wait_up() and all(peer.send(n) is not None for n in range(MESSAGES))


def restart_and_publish(broker, pki):
    """Restart the broker and publish at once; return the monotonic time it was back."""
    broker.stop()
    time.sleep(0.5)
    broker.start()
    back = time.monotonic_ns() // 1000
    with MqttClient(pki, broker.port, "publisher") as publisher:
        publisher.publish(ACTION, b"after-restart", 1)
    return back


def peer_reconnects(kind, workdir, pki, broker):
    with Peer(kind, workdir, pki, broker.port) as peer:
        assert peer.wait_up(), "%s did not come up" % kind.name
        values = []
        for _ in range(RESTARTS):
            back = restart_and_publish(broker, pki)
            received_us = peer.received("after-restart")
            if received_us is None:  # it never got the message: reported as such, no more rounds
                return values + [None]
            values.append((received_us - back) / 1e6)
        return values


def firmware_latencies(workdir, pki, broker):
    """In rounds of SESSION_COMMANDS on a fresh flash, as bench/device.py: the feeding cap (at its
    largest) would refuse more in a day."""
    values = []
    while len(values) < MESSAGES:
        with tempfile.TemporaryDirectory(dir=workdir) as flash:
            session = Session(flash, pki, broker.port)
            try:
                session.boot()
                for _ in range(min(SESSION_COMMANDS, MESSAGES - len(values))):
                    published_us, servo_us = session.send()
                    if servo_us is None:
                        raise SystemExit("bench: the firmware moved no servo for command %d" % session.sent)
                    values.append((servo_us - published_us) / 1000)
            finally:
                session.close()
    return values


def firmware_reconnects(workdir, pki, broker):
    session = Session(workdir, pki, broker.port)
    try:
        session.boot()
        values = []
        for _ in range(RESTARTS):
            broker.stop()
            time.sleep(0.5)
            broker.start()
            back = time.monotonic_ns() // 1000
            session.publisher = MqttClient(pki, broker.port, "publisher")  # as the peer's publisher does
            if session.send()[1] is None:
                raise SystemExit("bench: the firmware moved no servo after a broker restart")
            # Its servo start: the first PWM write after the broker was back.
            servo_us = min(t for t, _pin, _duty in session.device.trace() if t >= back)
            values.append((servo_us - back) / 1e6)
        return values
    finally:
        session.close()


def row(name, latencies, heap_k, reconnects):
    latency = "%.2f / %.2f ms" % (percentile(latencies, 50), percentile(latencies, 99)) if latencies else "-"
    heap = "%dK" % heap_k if isinstance(heap_k, int) else heap_k
    delivered = [seconds for seconds in reconnects if seconds is not None]
    back = "%.2f s" % statistics.median(delivered) if delivered else "-"
    if None in reconnects:
        back = "%s; round %d: nothing within %d s" % (back, len(reconnects), LINE_TIMEOUT_S)
    print("  %-14s %-22s %-26s %s" % (name, latency, heap, back))


def main():
    print("command: .venv/bin/python bench/peers.py (%d messages one at a time, %d broker restarts)"
          % (MESSAGES, RESTARTS))
    with scratch_broker() as (workdir, pki, broker):
        print("  %-14s %-22s %-26s %s" % ("client", "publish -> callback/servo", "smallest heap (TLS + msgs)",
                                           "broker back -> delivered"))
        with tempfile.TemporaryDirectory(dir=workdir) as scratch:
            row("firmware", firmware_latencies(scratch, pki, broker), "bench/device.py",
                firmware_reconnects(scratch, pki, broker))
        for kind, found, missing in (
                (ROBUST, os.path.join(PEERS, "umqtt", "robust.py"),
                 "not in .deps/peers (tools/setup/fetch_umqtt.py could not fetch it)"),
                (MQTT_AS, os.path.join(MQTT_AS_DIR, "mqtt_as", "__init__.py"),
                 "no mqtt_as/ in %s (on no registry here: set MQTT_AS_DIR to a checkout)" % MQTT_AS_DIR)):
            if not os.path.exists(found):
                print("  %-14s not measured: %s" % (kind.name, missing))
                continue
            with tempfile.TemporaryDirectory(dir=workdir) as scratch:
                kind.compile_into(scratch)
                latencies = peer_latencies(kind, scratch, pki, broker)
                heap_k = smallest_heap_k(lambda k: peer_runs(kind, scratch, pki, broker, k),  # noqa: B023
                                         HEAP_LOW_K, HEAP_HIGH_K, 4)
                reconnects = peer_reconnects(kind, scratch, pki, broker)
            row(kind.name, latencies, heap_k if heap_k is not None else "> %dK" % HEAP_HIGH_K, reconnects)
    print("firmware: publish -> servo start (the decision path, journal write and servo included); "
          "peer: publish -> its callback")


if __name__ == "__main__":
    main()

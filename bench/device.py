"""The whole device on the unix port against mosquitto (mutual TLS): latency, smallest heap, boot time.

    .venv/bin/python bench/device.py [--key-type rsa|ec]     (make bench runs it: RSA-2048, as AWS IoT)

1. Command latency: cloud publish -> first PWM write of the servo, over 1,000 commands (SINGLE and
   DOUBLE in turn), one at a time (the next is sent after the previous result arrived), in rounds
   of SESSION_COMMANDS on a fresh flash: the feeding cap (at its largest, 128 portions a day
   per bowl) is what a real device would meet after that many. Both ends read
   CLOCK_MONOTONIC: the trace's ticks_us on MicroPython's unix port and time.monotonic_ns() here.
   Compared, in the same run, with the same firmware checking for input only every 5 s (the
   seed device's loop), measured on a small sample (POLL_SAMPLE commands sent at random phases).
2. Smallest `-X heapsize` for a full session (TLS connect, SESSION_COMMANDS commands, one
   reconnect after the fault proxy cuts the connection), bisected in 4K steps. A session counts
   only when every command was dispensed, the loop logged no error (it catches MemoryError and goes
   on) and no connect attempt failed for lack of memory (the link retries it).
3. Boot to subscribed: process start -> "app: up" (CONNACK, SUBSCRIBE/SUBACK, online published).
`--repeat-session 72 76 --times 5` runs only full sessions, five at each size, and counts those
that ran: near the limit the outcome varies from run to run.
The servo waits are skipped (sim.servo_wait false): no servo is attached, the PWM writes are
still traced.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.heap_bisection import smallest_heap_k  # noqa: E402
from rigs.device import (  # noqa: E402
    ACTION,
    Device,
    Observer,
    command,
    rig_config,
    scratch_broker,
)
from tools.faultproxy import FaultProxy  # noqa: E402
from tools.mqttc import MqttClient  # noqa: E402

COMMANDS = 1000
# Per flash: 125 portions per bowl, within the largest feeding cap (128 a day).
SESSION_COMMANDS = 250
EVENTS = ("SINGLE", "DOUBLE")
POLL_SAMPLE = 5
BOOTS = 5
HEAP_LOW_K, HEAP_HIGH_K = 16, 128
GOAL_HEAP_K = 72  # on the 64-bit unix port, an upper bound for the board (issue 11)
MIN_SPACING_S = 0.012
RESULT_TIMEOUT_S = 10


def bench_config(port, **sim):
    sim_options = {"trace": "servo.trace", "servo_wait": False}
    sim_options.update(sim)
    if sim.get("fixed_poll_ms"):
        # A 5 s polling loop reads a PINGRESP (and a command) up to 5 s late: longer timeout (the most
        # config.py allows) and TTL.
        return rig_config(port, commands={"default_ttl_s": 60, "max_ttl_s": 60}, sim=sim_options,
                          mqtt={"timeout_ms": 6000})
    return rig_config(port, sim=sim_options)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


class Session:
    """One device process plus a publisher and an observer; commands one at a time."""

    def __init__(self, workdir, pki, port, heapsize="256K", device_port=None, **sim):
        """device_port: where the device connects (the fault proxy), default the broker's port."""
        config = bench_config(device_port or port, **sim)
        # Compiled modules, as on the board: compiling at import would need more heap than running.
        self.device = Device(os.path.join(workdir, "flash"), pki, config, heapsize=heapsize, compiled=True)
        self.port = port
        self.pki = pki
        self.observer = Observer(pki, port, client_id="bench-observer-%d" % time.monotonic_ns())
        self.publisher = MqttClient(pki, port, "publisher")
        self.sent = 0
        self.trace_lines = 0

    def boot(self):
        start = time.monotonic()
        self.device.start()
        self.device.wait_up()
        return time.monotonic() - start

    def send(self):
        """Publish one command; wait for its result; return (publish us, its first PWM write us or None)."""
        self.sent += 1
        published_us = time.monotonic_ns() // 1000
        self.publisher.publish(ACTION, command("bench-%d" % self.sent, EVENTS[self.sent % 2]))
        deadline = time.monotonic() + RESULT_TIMEOUT_S
        while len(self.observer.results) < self.sent:
            if time.monotonic() > deadline or not self.device.running():
                return published_us, None
            if not self.observer.pump(0.5):
                self.observer.reconnect()
        trace = self.device.trace()
        new, self.trace_lines = trace[self.trace_lines:], len(trace)
        return published_us, (new[0][0] if new else None)

    def all_dispensed(self):
        return len(self.observer.results) == self.sent and all(
            r["status"] == "dispensed" for r in self.observer.results.values())

    def close(self):
        self.device.kill()
        self.observer.close()
        self.publisher.close()


def latencies_ms(session, count, before_each=None):
    values = []
    for _ in range(count):
        if before_each:
            before_each()
        published_us, servo_us = session.send()
        if servo_us is None:
            raise SystemExit("bench: command %d got no servo motion" % session.sent)
        values.append((servo_us - published_us) / 1000)
        time.sleep(MIN_SPACING_S)
    return values


def full_session_runs(pki, broker, heap_k):
    with tempfile.TemporaryDirectory() as workdir:
        proxy = FaultProxy(broker.port).start()
        session = Session(workdir, pki, broker.port, heapsize="%dK" % heap_k, device_port=proxy.port)
        try:
            session.boot()
            for n in range(SESSION_COMMANDS):
                if n == SESSION_COMMANDS // 2:
                    proxy.cut()
                if session.send()[1] is None:
                    return False
                time.sleep(MIN_SPACING_S)
            time.sleep(0.2)  # let its last lines arrive
            log = session.device.output()
            # A connect attempt that ran out of memory is retried and may then succeed: it does
            # not count either.
            return (session.all_dispensed() and any(line.startswith("app: up 2") for line in log)
                    and not any(line.startswith("app: error") or "MemoryError" in line for line in log))
        except AssertionError:  # the device died or never came up
            return False
        finally:
            session.close()
            proxy.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="rsa", help="the development PKI's keys")
    parser.add_argument("--repeat-session", type=int, nargs="+", metavar="HEAP_K",
                        help="instead: run a full session this many times (--times) at each heap size, and "
                             "count the ones that ran (a bisection probes each size once)")
    parser.add_argument("--times", type=int, default=5)
    args = parser.parse_args()
    with scratch_broker(key_type=args.key_type) as (workdir, pki, broker):
        if args.repeat_session:
            for heap_k in args.repeat_session:
                ran = sum(full_session_runs(pki, broker, heap_k) for _ in range(args.times))
                print("full session at %dK: ran %d of %d" % (heap_k, ran, args.times), flush=True)
        else:
            run(workdir, pki, broker)


def run(workdir, pki, broker):
    print("command: .venv/bin/python bench/device.py --key-type %s"
          " (MicroPython unix port, mosquitto, mutual TLS)" % pki.key_type)
    session = Session(os.path.join(workdir, "latency"), pki, broker.port)
    boots = [session.boot()]
    for _ in range(BOOTS - 1):
        session.device.kill()
        boots.append(session.boot())
    session.close()
    event_driven = []
    for round_number in range(COMMANDS // SESSION_COMMANDS):
        session = Session(os.path.join(workdir, "latency-%d" % round_number), pki, broker.port)
        session.boot()
        event_driven += latencies_ms(session, SESSION_COMMANDS)
        session.close()

    rng = random.Random(5)
    polling = Session(os.path.join(workdir, "poll"), pki, broker.port, fixed_poll_ms=5000)
    polling.boot()
    polled = latencies_ms(polling, POLL_SAMPLE, before_each=lambda: time.sleep(rng.uniform(0, 5)))
    polling.close()

    print("boot to subscribed (process start -> CONNACK, SUBACK, online), %d boots: p50 %.0f ms, max %.0f ms"
          % (BOOTS, statistics.median(boots) * 1000, max(boots) * 1000))
    print("latency publish -> servo start, event-driven, %d commands: p50 %.2f ms, p99 %.2f ms, max %.2f ms"
          % (COMMANDS, percentile(event_driven, 50), percentile(event_driven, 99), max(event_driven)))
    print("latency publish -> servo start, 5 s polling loop (seed), %d commands: p50 %.0f ms, max %.0f ms"
          % (POLL_SAMPLE, percentile(polled, 50), max(polled)))
    print("p99 goal < 10 ms: %s" % ("met" if percentile(event_driven, 99) < 10 else "NOT met"))

    def report(heap_k, ran):
        print("  heapsize %dK: %s" % (heap_k, "runs" if ran else "fails"), flush=True)

    high = smallest_heap_k(lambda k: full_session_runs(pki, broker, k), HEAP_LOW_K, HEAP_HIGH_K, 4, report)
    if high is None:
        print("smallest heap: a full session fails even at %dK" % HEAP_HIGH_K)
        return
    print("smallest -X heapsize for a full session (TLS, %d commands, 1 reconnect): %dK (goal <= %dK: %s;"
          " the C3's starting heap, 64K: %s)" % (SESSION_COMMANDS, high, GOAL_HEAP_K,
                                                 "met" if high <= GOAL_HEAP_K else "NOT met",
                                                 "met" if high <= 64 else "NOT met"))


if __name__ == "__main__":
    main()

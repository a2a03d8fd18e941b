"""A shelter on one self-hosted hub (issue 19): a row of feeders, presses spread over them.

    .venv/bin/python bench/shelter.py                                     (make bench runs it)
    SHELTER_FEEDERS=5 SHELTER_SECONDS=10 .venv/bin/python bench/shelter.py          (a quick run)

SHELTER_FEEDERS feeders (default 20), each the firmware on MicroPython's unix port (compiled, as on
the board) with its own thing and certificate, named by a generated household file the hub routes by
and each feeder's caps come from; mosquitto over mutual TLS as the hub runs its own (persistence
sd-card), the hub in its own process (`python -m cloud.hub run`, rigs/hubprocess.py). Presses go out
at SHELTER_RATE per second (default 10) for SHELTER_SECONDS (default 60), round robin over the
feeders, each on its feeder's button topic as the page or `make press` publishes one (the cloud
publisher's certificate; the board's own button would have fed at once, local-first), SINGLE and
DOUBLE in turn per feeder, so a feeder takes up to 256 presses within its caps (128 per bowl, the
largest the firmware allows). The presses are sent on schedule, not one after the other's servo.

Measures, from one run:
1. press -> servo start, p50 / p99 per feeder and overall: from the publish of the press (this
   process's CLOCK_MONOTONIC) to the first PWM write of the bowl's dispense move in that feeder's
   servo trace (hal_sim.py, ticks_us: CLOCK_MONOTONIC on the unix port): the broker, the hub's ingest
   and ledger commit (fsync), the `feeds` rule, the feeder function, the broker again, the firmware's
   journal write. The servo waits are skipped (sim.servo_wait false); the writes are still traced.
   The k-th dispense of a feeder answers its k-th press (one publisher, one ordered path); each is
   checked to be on the bowl its press asked for. Split at the press's row in the hub's ledger (its
   recorded_at, wall clock: when the ingest writer took it, before the commit's fsync): publish ->
   ledger row (mosquitto, the hub's ingest and its 2 ms group-commit linger) and ledger row -> servo
   start; the three slowest presses, with when they went out (a burst of them is a stall).
2. The hub's and the broker's CPU (share of one core, from the first press until the last servo
   moved) and resident memory at the end and at its peak (rigs/proc.py); the feeders' processes
   together beside them (the same machine's cores).
3. Memory per added feeder: the same run with one feeder pressed at the same rate per feeder
   (SHELTER_RATE / SHELTER_FEEDERS per second): (peak with N - peak with 1) / (N - 1), hub and broker.
The load average (os.getloadavg) is printed with the figures: the machine may be shared.
"""

import json
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.device import percentile  # noqa: E402
from cloud import household  # noqa: E402
from cloud.hub import ledger as ledger_mod  # noqa: E402
from cloud.hub.broker import Broker  # noqa: E402
from cloud.hub.hub import LEDGER_FILE  # noqa: E402
from cloud.hub.ingest import mqtt_client  # noqa: E402
from cloud.hub.pki import Pki  # noqa: E402
from cloud.topology import button_topic  # noqa: E402
from firmware import config as firmware_config  # noqa: E402
from firmware.press import press_id, press_message  # noqa: E402
from rigs.device import LEFT_PULSES, RIGHT_PULSES, Device, dispense_starts, rig_config  # noqa: E402
from rigs.hubprocess import HubProcess  # noqa: E402
from rigs.proc import Usage  # noqa: E402

GOAL_P99_MS = 50
GOAL_MB_PER_FEEDER = 5
# SINGLE feeds the left bowl, DOUBLE the right: each bowl's cap at the firmware's largest.
EVENTS = (("SINGLE", LEFT_PULSES[0]), ("DOUBLE", RIGHT_PULSES[0]))
CAP = firmware_config.MAX_PORTIONS_PER_DAY
MAX_PRESSES_PER_FEEDER = CAP * len(EVENTS)
UP_TIMEOUT_S = 60  # every feeder's TLS handshake at once, on a shared machine
DRAIN_TIMEOUT_S = 60
MB = 1024 * 1024


def setting(name, default, kind):
    value = os.environ.get(name, str(default))
    try:
        number = kind(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise SystemExit("bench: %s=%r: expected a positive number" % (name, value))
    return number


def shelter_household(feeders):
    """The household file's content: feeders shelter-01.. with each bowl's cap at the firmware's largest."""
    caps = {"max_portions_per_hour": CAP, "max_portions_per_day": CAP}
    return household.validate(
        {
            "timezone": "UTC",
            "things": [
                {"thing": "shelter-%02d" % n, "name": "Pen %d" % n, "role": "feeder", "caps": caps}
                for n in range(1, feeders + 1)
            ],
        }
    )


class Press:
    """One press: its feeder, the bowl's pin it asks for, its press id (as the hub mints it), when it
    went out (CLOCK_MONOTONIC in us, the wall clock in s), and its times in ms once measured: to the
    servo start, and to the hub's ledger row (the row's recorded_at: the ingest writer took it)."""

    def __init__(self, thing, event, pin, seq):
        self.thing, self.pin = thing, pin
        at = int(time.time())
        self.message = press_message(event, at, seq)
        self.id = press_id(thing, event, at, seq)
        self.sent_us = self.sent_at = self.to_servo_ms = self.to_ledger_ms = None


def run(workdir, pki, feeders, rate, seconds):
    """One shelter: returns {presses: {thing: [Press]}, hub: usage, broker: usage, load: (start, end)}."""
    load_start = os.getloadavg()
    shelter = shelter_household(feeders)
    members = shelter["things"]
    os.makedirs(workdir)
    household_path = os.path.join(workdir, "household.json")
    with open(household_path, "w") as f:
        json.dump(shelter, f)
    # Its ACL grants each feeder of the household its own topics (cloud/hub/acl.py), as `make hub` writes it.
    things = household.topology(shelter)["things"]
    broker = Broker(pki, os.path.join(workdir, "broker"), persistence="sd-card", things=things).start()
    data_dir = os.path.join(workdir, "hub")
    hub = HubProcess(data_dir, pki, broker.port, os.path.join(workdir, "hub.log"), household=household_path)
    devices = {}
    try:
        hub.start()
        for member in members:
            config = rig_config(
                broker.port,
                thing=member["thing"],
                feeding=dict(member["caps"]),
                sim={"trace": "servo.trace", "servo_wait": False},
            )
            devices[member["thing"]] = Device(
                os.path.join(workdir, member["thing"]), pki, config, compiled=True
            )
        for device in devices.values():
            device.start()
        for device in devices.values():
            device.wait_up(UP_TIMEOUT_S)
        publisher = mqtt_client(pki, "publisher", "bench-shelter")
        publisher.connect("127.0.0.1", broker.port)
        publisher.loop_start()
        try:
            usages = {"hub": Usage(hub.pid).start(), "broker": Usage(broker.proc.pid).start()}
            usages.update((thing, Usage(device.proc.pid).start()) for thing, device in devices.items())
            presses = press(publisher, list(devices), rate, seconds)
            servo_starts(devices, presses)
            usage = {name: meter.stop() for name, meter in usages.items()}
        finally:
            publisher.loop_stop()
            publisher.disconnect()
    finally:
        for device in devices.values():
            device.kill()
        hub.stop()
        broker.stop()
    ledger_rows(os.path.join(data_dir, LEDGER_FILE), presses)
    feeders_usage = [usage.pop(thing) for thing in devices]
    feeders_total = tuple(sum(column) for column in zip(*feeders_usage, strict=True))
    return dict(presses=presses, load=(load_start, os.getloadavg()), feeders=feeders_total, **usage)


def press(publisher, things, rate, seconds):
    """Publish rate * seconds presses on schedule, round robin over things; returns {thing: [Press]}
    in the order each thing's presses went out."""
    presses = {thing: [] for thing in things}
    start = time.monotonic()
    for n in range(round(rate * seconds)):
        thing = things[n % len(things)]
        event, pin = EVENTS[len(presses[thing]) % len(EVENTS)]
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        one = Press(thing, event, pin, len(presses[thing]) + 1)
        one.sent_us, one.sent_at = time.monotonic_ns() // 1000, time.time()
        publisher.publish(button_topic(thing), one.message, 1)
        presses[thing].append(one)
    return presses


def servo_starts(devices, presses):
    """Each press's time to its servo start, once every press has moved its bowl's servo."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    for thing, device in devices.items():
        sent = presses[thing]
        while len(starts := dispense_starts(device.trace())) < len(sent):
            if time.monotonic() > deadline:
                raise SystemExit(
                    "bench: %s moved its servos for %d of its %d presses within %d s; it said %s"
                    % (thing, len(starts), len(sent), DRAIN_TIMEOUT_S, device.output()[-5:])
                )
            time.sleep(0.05)
        for k, (one, (ticks_us, pin, _)) in enumerate(zip(sent, starts, strict=False)):
            if pin != one.pin:
                raise SystemExit(
                    "bench: %s's press %d asked for pin %d; its dispense %d moved pin %d"
                    % (thing, k + 1, one.pin, k + 1, pin)
                )
            one.to_servo_ms = (ticks_us - one.sent_us) / 1000


def ledger_rows(ledger_path, presses):
    """Each press's time to its FeedRequested row in the hub's ledger."""
    recorded = {}
    db = ledger_mod.connect(ledger_path, readonly=True)
    for recorded_at, body in db.execute("SELECT recorded_at, body FROM events"):
        detail = json.loads(body)["detail"]
        if "press_id" in detail:
            recorded[detail["press_id"]] = recorded_at
    db.close()
    for sent in presses.values():
        for one in sent:
            one.to_ledger_ms = (recorded[one.id] - one.sent_at) * 1000


def line(name, values):
    return "  %-12s %7d %8.1f %8.1f %8.1f" % (
        name,
        len(values),
        statistics.median(values),
        percentile(values, 99),
        max(values),
    )


def load(pair):
    return "load average %s at the start, %s at the end" % tuple(
        "%.2f/%.2f/%.2f" % averages for averages in pair
    )


def usage_line(name, usage):
    share, resident, peak = usage
    return "%s: CPU %.1f%% of one core, resident %.1f MB at the end, %.1f MB at its peak" % (
        name,
        share * 100,
        resident / MB,
        peak / MB,
    )


def main():
    feeders = setting("SHELTER_FEEDERS", 20, int)
    seconds = setting("SHELTER_SECONDS", 60, float)
    rate = setting("SHELTER_RATE", 10, float)
    presses = round(rate * seconds)
    if not feeders <= presses <= feeders * MAX_PRESSES_PER_FEEDER:
        raise SystemExit(
            "bench: %d presses over %d feeders: expected at least one per feeder and at most the %d its"
            " caps allow (%d per bowl); change SHELTER_RATE, SHELTER_SECONDS or SHELTER_FEEDERS"
            % (presses, feeders, MAX_PRESSES_PER_FEEDER, CAP)
        )
    print(
        "command: SHELTER_FEEDERS=%d SHELTER_SECONDS=%g SHELTER_RATE=%g .venv/bin/python bench/shelter.py"
        " (hub and mosquitto over mutual TLS, firmware on MicroPython's unix port; %d CPUs)"
        % (feeders, seconds, rate, os.cpu_count())
    )
    with tempfile.TemporaryDirectory() as workdir:
        pki = Pki(os.path.join(workdir, "pki")).ensure()
        shelter = run(os.path.join(workdir, "shelter"), pki, feeders, rate, seconds)
        baseline = None
        if feeders > 1:
            baseline = run(os.path.join(workdir, "one"), pki, 1, rate / feeders, seconds)
    report(shelter, baseline, feeders, rate, seconds)


def report(shelter, baseline, feeders, rate, seconds):
    presses = shelter["presses"]
    overall = [one for sent in presses.values() for one in sent]
    to_servo = [one.to_servo_ms for one in overall]
    p99 = percentile(to_servo, 99)
    print(
        "%d feeders, %d presses at %g/s over %g s (%s): press -> servo start, ms"
        % (feeders, len(overall), rate, seconds, load(shelter["load"]))
    )
    print("  %-12s %7s %8s %8s %8s" % ("feeder", "presses", "p50", "p99", "max"))
    for thing in sorted(presses):
        print(line(thing, [one.to_servo_ms for one in presses[thing]]))
    goal = "met" if p99 < GOAL_P99_MS else "NOT met"
    print(line("overall", to_servo) + "   (goal p99 < %d ms: %s)" % (GOAL_P99_MS, goal))
    to_ledger = [one.to_ledger_ms for one in overall]
    after_ledger = [one.to_servo_ms - one.to_ledger_ms for one in overall]
    print(
        "  stages, p50 / p99: publish -> the hub's ledger row %.1f / %.1f ms; ledger row -> servo start"
        " (commit, rule, feeder, broker, device) %.1f / %.1f ms"
        % (
            statistics.median(to_ledger),
            percentile(to_ledger, 99),
            statistics.median(after_ledger),
            percentile(after_ledger, 99),
        )
    )
    first = min(one.sent_us for one in overall)
    slowest = sorted(overall, key=lambda one: one.to_servo_ms)[-3:][::-1]
    print(
        "  slowest: "
        + "; ".join(
            "%s at %.1f s, %.1f ms (ledger row at %.1f ms)"
            % (one.thing, (one.sent_us - first) / 1e6, one.to_servo_ms, one.to_ledger_ms)
            for one in slowest
        )
    )
    print(usage_line("hub", shelter["hub"]))
    print(usage_line("mosquitto", shelter["broker"]))
    print(usage_line("the %d feeders' MicroPython processes together" % feeders, shelter["feeders"]))
    if baseline is None:
        return
    print(
        "1 feeder at %g presses/s over %g s (%s): hub peak %.1f MB, mosquitto peak %.1f MB"
        % (
            rate / feeders,
            seconds,
            load(baseline["load"]),
            baseline["hub"][2] / MB,
            baseline["broker"][2] / MB,
        )
    )
    hub_mb, broker_mb = (
        (shelter[name][2] - baseline[name][2]) / MB / (feeders - 1) for name in ("hub", "broker")
    )
    print(
        "memory per added feeder (peak resident, %d feeders against 1): hub %+.2f MB (goal < %d MB: %s),"
        " mosquitto %+.2f MB"
        % (
            feeders,
            hub_mb,
            GOAL_MB_PER_FEEDER,
            "met" if hub_mb < GOAL_MB_PER_FEEDER else "NOT met",
            broker_mb,
        )
    )


if __name__ == "__main__":
    main()

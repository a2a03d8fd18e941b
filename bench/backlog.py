"""A backlog of 200 commands on the whole device (unix port, mosquitto, mutual TLS): no result lost,
and each result leaves right after its own dispense.

    .venv/bin/python bench/backlog.py            (make bench runs it)

200 commands (SINGLE and DOUBLE in turn, the feeding cap at its largest, 128 a day per bowl) are
published back to back while the device is connected; the servos really wait (the test rig's
quick calibration: about 0.35 s per dispense). Reported from one run:
- time from the first publish to the last result;
- per command, publish -> result seen by the observer: p50 / p99 / max (grows along the backlog);
- per command, its dispense finishing (the servo trace's last PWM write of that dispense) -> its
  result seen by the observer: p50 / p99 / max. Goal: p99 <= 100 ms.
- results missing, seq gaps and drops (goal: none).
Both clocks are CLOCK_MONOTONIC: the trace's ticks_us on the unix port and time.monotonic() here.
"""

import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from rigs.device import (  # noqa: E402
    ACTION,
    PARK_WRITES,
    Device,
    Observer,
    command,
    rig_config,
    scratch_broker,
)
from tools.mqttc import MqttClient  # noqa: E402

COMMANDS = 200
EVENTS = ("SINGLE", "DOUBLE")
WRITES_PER_DISPENSE = 4  # open, detach, close, detach
GOAL_MS = 100


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def summary(values_ms):
    return "p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
        statistics.median(values_ms), percentile(values_ms, 99), max(values_ms))


def main():
    with scratch_broker() as (workdir, pki, broker):
        run(workdir, pki, broker)


def run(workdir, pki, broker):
    print("command: .venv/bin/python bench/backlog.py (MicroPython unix port, mosquitto, mutual TLS)")
    device = Device(os.path.join(workdir, "flash"), pki, rig_config(broker.port), compiled=True).start()
    device.wait_up()
    observer = Observer(pki, broker.port, client_id="bench-backlog-observer")
    publisher = MqttClient(pki, broker.port, "publisher")
    ids = ["backlog-%03d" % n for n in range(COMMANDS)]
    published = []
    for n, command_id in enumerate(ids):
        published.append(time.monotonic())
        publisher.publish(ACTION, command(command_id, EVENTS[n % 2]))
    observer.collect(ids, timeout_s=COMMANDS * 2)
    trace = device.trace()[len(PARK_WRITES):]
    device.kill()
    observer.close()
    publisher.close()

    results = observer.results
    seqs = sorted(results)
    missing = [i for i in ids if i not in observer.by_id()]
    not_dispensed = [r["id"] for r in results.values() if r["status"] != "dispensed"]
    gaps = seqs != list(range(1, len(seqs) + 1))
    # Commands are decided in order, one dispense each: the k-th dispense is the k-th command's.
    ends_s = [trace[k * WRITES_PER_DISPENSE + WRITES_PER_DISPENSE - 1][0] / 1e6 for k in range(COMMANDS)]
    by_id = {results[seq]["id"]: seq for seq in seqs}
    seen = [observer.received_at[by_id[command_id]] for command_id in ids]
    publish_to_result = [(seen[k] - published[k]) * 1000 for k in range(COMMANDS)]
    dispense_to_result = [(seen[k] - ends_s[k]) * 1000 for k in range(COMMANDS)]

    print("backlog of %d commands published back to back while connected:" % COMMANDS)
    print("  first publish -> last result: %.1f s" % (max(seen) - published[0]))
    print("  first publish -> first result: %.0f ms" % ((min(seen) - published[0]) * 1000))
    print("  publish -> result, per command: %s" % summary(publish_to_result))
    print("  own dispense finished -> result seen, per command: %s" % summary(dispense_to_result))
    print("  results missing %d, not dispensed %d, seq gaps %s, delivered %d (resends included)"
          % (len(missing), len(not_dispensed), "yes" if gaps else "none", len(observer.deliveries)))
    met = not missing and not not_dispensed and not gaps and percentile(dispense_to_result, 99) <= GOAL_MS
    print("goal (nothing lost, p99 dispense -> result <= %d ms): %s" % (GOAL_MS, "met" if met else "NOT met"))


if __name__ == "__main__":
    main()

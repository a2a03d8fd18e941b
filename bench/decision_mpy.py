"""Decision-path throughput and heap on the MicroPython unix port.

    .venv/bin/micropython -X heapsize=64K bench/decision_mpy.py     (make bench runs it this way)

Feeder.handle with the real Journal and Outbox on a temp dir and the sim HAL (virtual time, so
the one real dispense costs no wall-clock). Measures how many duplicate and how many expired
commands per second it decides (each one parsed, checked, and its result written to the flash
outbox; goal >= 2,000/s), the bytes allocated per decision, and the heap high-water mark.
"""

import gc
import os
import sys
import time

sys.path.insert(0, (__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/../firmware")


def _load(name):
    module = __import__(name)
    gc.collect()  # compile garbage out of the way before the next module: the 64K heap fragments
    return module


# Largest first, while the heap is emptiest.
Journal = _load("journal").Journal
Outbox = _load("outbox").Outbox
feeder = _load("feeder")
hal_sim = _load("hal_sim")
servo = _load("servo")
DISPENSED, DUPLICATE, EXPIRED = feeder.DISPENSED, feeder.DUPLICATE, feeder.EXPIRED

COMMAND_LINE = ".venv/bin/micropython -X heapsize=64K bench/decision_mpy.py"
NOW = 1795730000
RUN = 2000
SERVO = {"min_us": 500, "max_us": 2500, "rest_deg": 0, "dispense_deg": 90, "dwell_ms": 600}
CONFIG = {
    "commands": {"default_ttl_s": 300, "max_ttl_s": 3600},
    "servos": {"left": dict(SERVO, pin=3), "right": dict(SERVO, pin=4)},
}


def remove_tree(path):
    for entry in os.listdir(path):
        os.remove(path + "/" + entry)
    os.rmdir(path)


def measure(device, payloads, expected):
    """Decide RUN payloads (cycling through payloads); return (decisions/s, heap high-water between calls)."""
    gc.collect()
    peak = gc.mem_alloc()
    count = len(payloads)
    start = time.ticks_us()
    for i in range(RUN):
        status = device.handle(payloads[i % count])
        if status != expected:
            raise SystemExit("unexpected status %d at %d (free %d)" % (status, i, gc.mem_free()))
        used = gc.mem_alloc()
        if used > peak:
            peak = used
    elapsed_us = time.ticks_diff(time.ticks_us(), start)
    return RUN * 1000000 // elapsed_us, peak


def allocated_per_call(device, payload, expected, calls=20):
    """Bytes allocated by one decision, with the collector off so nothing is reclaimed meanwhile."""
    gc.collect()
    gc.disable()
    worst = 0
    for _ in range(calls):
        before = gc.mem_alloc()
        device.handle(payload)
        worst = max(worst, gc.mem_alloc() - before)
    gc.enable()
    return worst


def main():
    directory = "/tmp/bench-decision-" + "".join("%02x" % b for b in os.urandom(6))
    os.mkdir(directory)
    try:
        hal = hal_sim.HAL(start_unix=NOW)
        dispenser = servo.Dispenser.from_config(hal, CONFIG["servos"])
        device = feeder.Feeder(CONFIG, Journal(directory, 3600), Outbox(directory, 64), dispenser, hal)
        pressed = b'{"v": 1, "id": "press-7f3a9c2e", "event": "SINGLE", "issued_at": %d}' % NOW
        if device.handle(pressed) != DISPENSED:
            raise SystemExit("setup dispense failed")
        stale = NOW - 3600
        template = b'{"v": 1, "id": "old-%d", "event": "LONG", "issued_at": %d}'
        expired = [template % (i, stale) for i in range(32)]
        gc.collect()
        baseline = gc.mem_alloc()
        duplicates_per_s, duplicate_peak = measure(device, [pressed], DUPLICATE)
        expired_per_s, expired_peak = measure(device, expired, EXPIRED)
        duplicate_bytes = allocated_per_call(device, pressed, DUPLICATE)
        expired_bytes = allocated_per_call(device, expired[0], EXPIRED)
        heap_total = gc.mem_alloc() + gc.mem_free()
        print("command: " + COMMAND_LINE)
        print(
            "heap: %d bytes total; %d live after setup (firmware modules, journal, outbox, payloads)"
            % (heap_total, baseline)
        )
        for name, per_s, allocated, high_water in (
            ("duplicate", duplicates_per_s, duplicate_bytes, duplicate_peak),
            ("expired", expired_per_s, expired_bytes, expired_peak),
        ):
            print(
                "%-9s: %d decisions/s over %d; <= %d bytes allocated per decision (peak live heap <= %d);"
                " gc.mem_alloc high-water %d (garbage included: the collector runs when the heap is full)"
                % (name, per_s, RUN, allocated, baseline + allocated, high_water)
            )
        print("goal >= 2000/s: %s" % ("met" if min(duplicates_per_s, expired_per_s) >= 2000 else "NOT met"))
    finally:
        remove_tree(directory)


main()

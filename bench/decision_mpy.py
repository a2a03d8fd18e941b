"""Decision-path throughput and heap on the MicroPython unix port.

    MICROPYPATH=build/mpy-bench:.frozen:tools/stock_frozen:lib .venv/bin/micropython -X heapsize=64K \\
        bench/decision_mpy.py      (make bench runs it so, after tools/compile_firmware.sh build/mpy-bench)

Feeder.handle with the real Journal and Outbox on a temp dir and the sim HAL (virtual time, so
the one real dispense costs no wall-clock). Measures how many duplicate and how many expired
commands per second it decides (each one parsed, checked, and its result written to the flash
outbox; goal >= 2,000/s), the bytes allocated per decision, and the heap high-water mark.
"""

import gc
import sys
import time

# The feeder tests' device rig: real Journal and Outbox on a temp dir, sim HAL, real servos.
_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.append(_here + "/../firmware")  # source, when MICROPYPATH has no compiled firmware
sys.path.insert(0, _here + "/../tests/firmware")
from feederrig import NOW, Rig, feeder, payload  # noqa: E402

DISPENSED, DUPLICATE, EXPIRED = feeder.DISPENSED, feeder.DUPLICATE, feeder.EXPIRED
COMMAND_LINE = ("MICROPYPATH=build/mpy-bench:.frozen:tools/stock_frozen:lib"
                " .venv/bin/micropython -X heapsize=64K bench/decision_mpy.py"
                " (make bench; tools/compile_firmware.sh build/mpy-bench compiles the firmware first)")
RUN = 2000


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
    rig = Rig()
    try:
        measure_all(rig)
    finally:
        gc.collect()  # measure_all's payloads and results go before the rig's files are listed
        rig.close()


def measure_all(rig):
    device = rig.feeder
    pressed = payload()
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


main()

"""The button classifier on the MicroPython unix port: cost per sample, allocation, and the delay
from the edge that decides a gesture to its classification.

    MICROPYPATH=build/mpy-bench:.frozen:tools/stock_frozen:lib .venv/bin/micropython -X heapsize=64K \\
        bench/button_mpy.py      (make bench runs it so, after tools/compile_firmware.sh build/mpy-bench)

The delay is measured on the classifier's virtual clock with the sampling the main loop does: a
sample at every edge (the pin IRQ wakes the loop) and again when wait_ms says so, each `late` ms
after it is due (0..20 ms of loop latency, seeded random). 500 presses of each kind with random
hold times and gaps: the figure is the time from the deciding edge (the release for SINGLE, the
second press for DOUBLE, the press for LONG) to the sample that returns the gesture.
"""

import gc
import random
import sys
import time

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.append(_here + "/../firmware")  # source, when MICROPYPATH has no compiled firmware
from button import DOUBLE, LONG, PRESSED, RELEASED, SINGLE, Classifier  # noqa: E402

COMMAND_LINE = ("MICROPYPATH=build/mpy-bench:.frozen:tools/stock_frozen:lib"
                " .venv/bin/micropython -X heapsize=64K bench/button_mpy.py"
                " (make bench; tools/compile_firmware.sh build/mpy-bench compiles the firmware first)")
PRESSES = 500
SAMPLES = 20000


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def gesture(kind):
    """(edges relative to 0, the deciding edge's time)."""
    if kind == SINGLE:
        held = random.randint(40, 900)
        return [(0, PRESSED), (held, RELEASED)], held
    if kind == DOUBLE:
        first, gap, second = random.randint(40, 300), random.randint(60, 380), random.randint(40, 300)
        edges = [(0, PRESSED), (first, RELEASED), (first + gap, PRESSED), (first + gap + second, RELEASED)]
        return edges, first + gap
    return [(0, PRESSED), (random.randint(1100, 3000), RELEASED)], 0


def delay(kind):
    edges, deciding = gesture(kind)
    classifier = Classifier()
    now, level, pending = 0, RELEASED, list(edges)
    while True:
        while pending and pending[0][0] <= now:
            level = pending.pop(0)[1]
        found = classifier.sample(now, level)
        if found is not None:
            if found != kind:
                raise SystemExit("classified %s as %s: %r" % (kind, found, edges))
            return now - deciding
        wait = classifier.wait_ms(now)
        next_edge = pending[0][0] if pending else None
        due = now + wait + random.randint(0, 20) if wait >= 0 else None
        now = min(t for t in (due, next_edge) if t is not None)


def sample_cost():
    """Microseconds and bytes allocated per sample() over a stream of bouncing edges."""
    classifier = Classifier()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    start = time.ticks_us()
    for i in range(SAMPLES):
        classifier.sample(i * 7, (i // 3) & 1)
    elapsed = time.ticks_diff(time.ticks_us(), start)
    allocated = gc.mem_alloc() - before
    gc.enable()
    return elapsed * 1000 // SAMPLES, allocated


def main():
    random.seed(9)
    print("button classifier (%s)" % COMMAND_LINE)
    ns, allocated = sample_cost()
    print("  sample(): %d ns per call, %d bytes allocated over %d calls" % (ns, allocated, SAMPLES))
    for kind, defined_by in ((SINGLE, "release"), (DOUBLE, "second press"), (LONG, "press")):
        delays = [delay(kind) for _ in range(PRESSES)]
        print("  %-6s from its %-12s to classification: p50 %4d ms, p99 %4d ms (%d presses)"
              % (kind, defined_by, percentile(delays, 0.5), percentile(delays, 0.99), PRESSES))


main()

"""The schedule on the MicroPython unix port: its resident heap with 8 slots (goal: under 4 KB), the
main loop's per-poll check while nothing is due, the check at most every minute, and a full
evaluation (schedule_run.py through bootonly.call) with 8 slots in a zone with daylight saving.

    MICROPYPATH=build/mpy-bench:.frozen:tools/stock_frozen:lib .venv/bin/micropython -X heapsize=64K \\
        bench/schedule_mpy.py      (make bench runs it so, after tools/compile_firmware.sh build/mpy-bench)

Heap: gc.mem_alloc() growth from before `schedule` and `shadow` are imported to after a Schedule and
its Shadow hold an applied 8-slot document, have evaluated it once and reported it (schedule_doc.py,
which parses it, and schedule_run.py with tzrule.py, which evaluates it, are loaded for their call and
released, as on the device; the names they interned stay and are counted).
The modules the schedule shares with the rest of the firmware (messages, smallfiles, bootonly,
command, journal's storage) are imported before the measure starts. The unix port is 64-bit: on the
board (32-bit) pointers and small objects take half, and frozen modules (firmware/README.md,
"Freeze it into your own image") take no heap for their bytecode.
"""

import gc
import json
import os
import sys
import time

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
# MicroPython puts this script's folder first on the path, where bench/schedule.py (the CPython benchmark)
# would be imported in place of the firmware's schedule.py.
sys.path = [entry for entry in sys.path if not entry.endswith("/bench") and entry != _here]
sys.path.append(_here + "/../firmware")  # source, when MICROPYPATH has no compiled firmware
import bootonly  # noqa: E402
import command  # noqa: E402, F401
import messages  # noqa: E402, F401
import smallfiles  # noqa: E402, F401

COMMAND_LINE = ("MICROPYPATH=build/mpy-bench:.frozen:tools/stock_frozen:lib"
                " .venv/bin/micropython -X heapsize=64K bench/schedule_mpy.py"
                " (make bench; tools/compile_firmware.sh build/mpy-bench compiles the firmware first)")
POLLS = 20000
CHECKS = 200
EVENTS = ("SINGLE", "DOUBLE", "LONG")


class Clock:
    """A fixed trusted clock: the figures are the schedule's own work."""

    def __init__(self, now):
        self.now = now

    def ticks_ms(self):
        return 0

    def ticks_diff(self, a, b):
        return a - b

    def unix_time(self):
        return self.now

    def clock_trusted(self):
        return True


class Nothing:
    """The feeder and the outbox: a due slot costs its dispense and its result, not measured here."""

    def handle(self, payload, command_id, bowls, due):
        return None

    def put(self, packed):
        return None

    def send(self, topic, payload, qos=1, retain=False):
        """The link: the shadow's get and report are taken (packet id 1)."""
        return 1


def eight_slots():
    slots = [{"id": i, "at": 360 + 120 * i, "event": EVENTS[i % 3], "portions": 1 + i % 4, "days": 127}
             for i in range(8)]
    desired = {"version": 7, "tz": "AEST-10AEDT,M10.1.0,M4.1.0/3", "slots": slots, "paused": False,
               "skip": [], "grace_s": 1800}
    return json.dumps({"state": {"desired": desired}}).encode()


def main():
    directory = "/tmp/schedule-bench-" + "".join("%02x" % b for b in os.urandom(4))
    smallfiles.make_dir(directory)
    payload = eight_slots()
    gc.collect()
    before = gc.mem_alloc()
    from schedule import Schedule
    from shadow import Shadow

    gc.collect()
    code = gc.mem_alloc() - before
    clock = Clock(1795730000)
    schedule = Schedule(directory, clock, Nothing(), Nothing())
    shadow = Shadow("$aws/things/cat-feeder/shadow/name/schedule", schedule, clock, print)
    version, body, error = bootonly.call("schedule_doc", "desired", payload, 0)
    assert error is None and version == 7
    schedule.apply(body)
    del body
    schedule.check(clock.now)  # the first evaluation: schedule_run.py loaded and released, its names stay
    shadow.on_connect()
    shadow.send(Nothing())  # the get and the report a connected device has sent (what it keeps of them)
    gc.collect()
    resident = gc.mem_alloc() - before
    print("command:", COMMAND_LINE)
    print("schedule resident heap with 8 slots (schedule, shadow modules, a Schedule and its Shadow, the"
          " names schedule_doc, schedule_run, tzrule and tzparse interned): %d B (goal < 4096 B on the board;"
          " unix port, 64-bit: an upper bound)" % resident)
    print("  of which the modules' code (none when frozen into the image): %d B; the objects: %d B"
          % (code, resident - code))

    # The loop's check while nothing is due: a ticks comparison.
    poll = schedule.poll
    gc.collect()
    allocated = gc.mem_alloc()
    for _ in range(POLLS):
        pass
    loop_alloc = gc.mem_alloc() - allocated  # the loop's own (its range object)
    gc.collect()
    allocated = gc.mem_alloc()
    start = time.ticks_us()
    for _ in range(POLLS):
        poll(0)
    end = time.ticks_us()
    allocated = gc.mem_alloc() - allocated - loop_alloc
    print("per-poll check, nothing due: %.2f us, %d B allocated over %d polls (beyond the loop's own)"
          % (time.ticks_diff(end, start) / POLLS, allocated, POLLS))

    # The check every minute at most while nothing is due: now against the next occurrence's instant.
    times = []
    for _ in range(CHECKS):
        clock.now += 60  # a minute on: nothing due in between (slots are 2 h apart at hh:00)
        start = time.ticks_us()
        schedule.check(clock.now)
        times.append(time.ticks_diff(time.ticks_us(), start))
    times.sort()
    print("check (every %d s at most): p50 %d us, p99 %d us over %d"
          % (60, times[len(times) // 2], times[len(times) * 99 // 100], CHECKS))
    # A full evaluation (when an occurrence is due, after an edit, at boot): schedule_run.py loaded,
    # the occurrences of (last, now] handled and the next found, 8 slots, Sydney's rule, released.
    times = []
    for _ in range(CHECKS // 10):
        clock.now += 60
        start = time.ticks_us()
        bootonly.call("schedule_run", "run", schedule, clock.now)
        times.append(time.ticks_diff(time.ticks_us(), start))
    times.sort()
    print("evaluation through bootonly (import, run, release): p50 %d us, p99 %d us over %d"
          % (times[len(times) // 2], times[len(times) * 99 // 100], len(times)))
    del shadow
    for name in ("doc", "last"):
        try:
            os.remove(directory + "/schedule/" + name)
        except OSError:
            pass
    os.rmdir(directory + "/schedule")
    os.rmdir(directory)


main()

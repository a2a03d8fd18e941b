"""What the schedule keeps in the heap (CPython and MicroPython): the evaluation (schedule_run.py)
runs only after an edit and when an occurrence is due, and leaves sys.modules after each call, as the
shadow's document code does; between occurrences the check compares the clock with the next
occurrence's instant (firmware/README.md, Schedule, "Resident" and "Check")."""

import sys

import bootonly
from schedrig import SchedRig, bodies, desired, utc

EVERY_DAY = 127


def test_the_schedule_is_evaluated_only_when_due_and_its_rare_code_leaves_the_heap():
    start = utc(2026, 12, 1)  # UTC0: local = UTC
    # Those an earlier test imported itself stay (pytest runs the files in one process).
    rare = [name for name in ("schedule_run", "schedule_doc", "tzparse") if name not in sys.modules]
    (body,) = bodies(desired(1, "UTC0", [(0, 60, "SINGLE", 1, EVERY_DAY), (1, 600, "LONG", 1, EVERY_DAY)]))
    r = SchedRig(start)
    calls = []
    real_call = bootonly.call

    def counting_call(module_name, function_name, *args):
        calls.append((module_name, function_name))
        return real_call(module_name, function_name, *args)

    try:
        r.apply(body)
        bootonly.call = counting_call
        r.run_until(start + 23 * 3600)  # a check at least every minute: some 1400 of them
        results = r.take_results()
        assert [(x[0], x[1], x[2]) for x in results] == [
            ("sch-1-0-20261201-1", "dispensed", start + 3600),
            ("sch-1-1-20261201-1", "dispensed", start + 36000)]
        # Once after the edit (finds 01:00), at 01:00 (feeds it, finds 10:00), at 10:00 (feeds it, finds
        # tomorrow's 01:00): never between.
        assert calls == [("schedule_run", "run")] * 3, calls
        assert r.schedule.due == start + 86400 + 3600
        assert [name for name in rare if name in sys.modules] == []
    finally:
        bootonly.call = real_call
        r.close()

"""Schedule versions on the device (CPython and MicroPython): an edit never re-fires a slot that ran
across a reboot of the schedule (an older one delivered late: test_schedule_doc.py; the main loop's
check allocating nothing: bench/schedule_mpy.py)."""

from schedrig import SchedRig, bodies, desired, utc

SINGLE, DOUBLE = "SINGLE", "DOUBLE"
EVERY_DAY = 127


def test_an_edit_never_refires_a_slot_that_ran_today():
    start = utc(2026, 12, 1)
    v5, v6 = bodies(desired(5, "UTC0", [(0, 60, SINGLE, 1, EVERY_DAY)]),
                    desired(6, "UTC0", [(0, 90, DOUBLE, 1, EVERY_DAY)]))
    r = SchedRig(start)
    try:
        r.apply(v5)
        r.run_until(start + 7200)
        assert len(r.take_results()) == 1
        # Version 6 moves the slot to 01:30, already past: not fed today, fed tomorrow.
        r.apply(v6)
        r.boot(again=False)  # the schedule read back from flash, as at boot
        assert r.schedule.version == 6
        r.run_until(start + 86400 + 7200)
        assert [(x[0], x[4]) for x in r.take_results()] == [("sch-6-0-20261202-1", ["right"])]
    finally:
        r.close()

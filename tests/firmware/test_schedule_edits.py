"""Schedule versions on the device (CPython and MicroPython): an edit never re-fires a slot that ran,
the applied one survives a reboot (an older one delivered late: test_schedule_doc.py); the main
loop's check allocates nothing while nothing is due."""

from schedrig import SchedRig, bodies, desired, utc

SINGLE, DOUBLE = "SINGLE", "DOUBLE"
EVERY_DAY = 127


def test_an_edit_never_refires_a_slot_that_ran_and_an_older_version_is_ignored():
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
        assert r.schedule.version == 6
        r.boot()  # the applied version survives a reboot
        assert r.schedule.version == 6
        r.run_until(start + 86400 + 7200)
        assert [(x[0], x[4]) for x in r.take_results()] == [("sch-6-0-20261202-1", ["right"])]
    finally:
        r.close()


def test_the_runner_allocates_nothing_while_nothing_is_due():
    import gc

    start = utc(2026, 12, 1)
    (body,) = bodies(desired(1, "UTC0", [(0, 600, SINGLE, 1, EVERY_DAY)]))
    r = SchedRig(start)
    try:
        r.apply(body)
        r.schedule.poll(r.hal.ticks_ms())
        poll, now = r.schedule.poll, r.hal.ticks_ms()
        if hasattr(gc, "mem_alloc"):  # MicroPython
            before = gc.mem_alloc()
            for _ in range(100):
                poll(now)
            assert gc.mem_alloc() == before
    finally:
        r.close()

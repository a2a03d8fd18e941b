"""The schedule's skip and pause on the sim's virtual clock (CPython and MicroPython): they hold
offline, and each occurrence they stop is reported `skipped` (docs/protocol.md, "Schedule shadow")."""

from schedrig import SchedRig, bodies, desired, utc

SINGLE, DOUBLE = "SINGLE", "DOUBLE"
EVERY_DAY = 127


def test_pause_and_skip_hold_offline_and_report_skipped():
    start = utc(2026, 12, 1)
    skip, pause = bodies(
        desired(2, "UTC0", [(0, 60, SINGLE, 1, EVERY_DAY), (1, 120, DOUBLE, 2, EVERY_DAY)],
                skip=(1, 20261201)),
        desired(3, "UTC0", [(0, 60, SINGLE, 1, EVERY_DAY)], paused=True),
    )
    r = SchedRig(start)
    try:
        r.apply(skip)
        r.run_until(start + 86400)
        assert [(x[0], x[1]) for x in r.take_results()] == [
            ("sch-2-0-20261201-1", "dispensed"),
            ("sch-2-1-20261201-1", "skipped"),
            ("sch-2-1-20261201-2", "skipped"),
        ]
        r.apply(pause)
        r.run_until(start + 2 * 86400)
        assert [(x[0], x[1], x[4]) for x in r.take_results()] == [
            ("sch-3-0-20261202-1", "skipped", [])]
        # One SINGLE: out (90 degrees, 1.5 ms) and back (0 degrees, 0.5 ms), each detached after.
        assert r.pin_writes == {(3, 1500000): 1, (3, 500000): 1, (3, 0): 2}
    finally:
        r.close()

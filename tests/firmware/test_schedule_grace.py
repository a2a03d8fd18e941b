"""The schedule's grace on the sim's virtual clock (CPython and MicroPython): an occurrence found
overdue by at most grace_s is fed late, one second more is reported `missed`, each once
(docs/protocol.md, "Schedule shadow")."""

from schedrig import SchedRig, bodies, desired, utc

SINGLE = "SINGLE"
EVERY_DAY = 127


def test_grace_boundary_feeds_late_within_grace_and_reports_missed_beyond():
    for late, status in ((600, "dispensed"), (601, "missed")):
        start = utc(2026, 12, 1)  # UTC0: local = UTC
        (body,) = bodies(desired(1, "UTC0", [(0, 60, SINGLE, 1, EVERY_DAY)], grace_s=600))
        r = SchedRig(start)
        try:
            r.apply(body)
            r.schedule.check(start)
            r.hal.advance_s(3600 + late)  # off (no check) from before 01:00 until late seconds after
            r.boot()
            r.run_until(start + 3600 + late)
            results = r.take_results()
            assert [(x[0], x[1], x[2]) for x in results] == [
                ("sch-1-0-20261201-1", status, start + 3600)
            ], results
            assert results[0][4] == (["left"] if status == "dispensed" else [])
            r.run_until(start + 86400 + 7200)
            assert [x[0] for x in r.take_results()] == ["sch-1-0-20261202-1"]  # the next day's, once
        finally:
            r.close()
            r = None  # the next round's rig needs its room in the 64K test heap

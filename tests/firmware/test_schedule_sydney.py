"""A week of a two-slot schedule in Australia/Sydney across the spring-forward change, on the sim's
virtual clock (CPython and MicroPython): each slot fed once, at its UTC instant, the skipped 02:30 at
the change itself (docs/protocol.md, "Schedule shadow")."""

from schedrig import SYDNEY, SchedRig, bodies, desired, utc

SINGLE, DOUBLE = "SINGLE", "DOUBLE"
EVERY_DAY = 127


def test_a_week_in_sydney_across_spring_forward_feeds_each_slot_once_at_its_utc_instant():
    start = utc(2026, 9, 30, offset_h=10) + 17  # Wednesday 00:00:17 AEST: the loop wakes at each due second
    # 02:30 does not exist on Sunday 4 October (02:00 AEST -> 03:00 AEDT): it runs at the change.
    (body,) = bodies(desired(1, SYDNEY, [(0, 150, SINGLE, 1, EVERY_DAY), (1, 1080, DOUBLE, 1, EVERY_DAY)]))
    r = SchedRig(start)
    try:
        r.apply(body)
        # Day by day (the 64K test heap): every result of the day is exactly its two feedings.
        for day in range(30, 37):
            y, m, d = (2026, 9, day) if day <= 30 else (2026, 10, day - 30)
            offset = 10 if (m, d) < (10, 4) else 11
            r.run_until(utc(y, m, d, 23, 59, offset))
            morning = utc(2026, 10, 3, 16) if (m, d) == (10, 4) else utc(y, m, d, 2, 30, offset)
            evening = utc(y, m, d, 18, 0, offset)
            date = y * 10000 + m * 100 + d
            assert r.take_results() == [
                ("sch-1-0-%d-1" % date, "dispensed", morning, morning, ["left"], "schedule"),
                ("sch-1-1-%d-1" % date, "dispensed", evening, evening, ["right"], "schedule"),
            ], (date, r.results, r.take_results() if False else None)
    finally:
        r.close()

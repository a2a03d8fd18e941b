"""A week of a two-slot schedule in America/New_York across the fall-back change, on the sim's
virtual clock (CPython and MicroPython): each slot fed once, at its UTC instant, the repeated 01:30
at its first occurrence (docs/protocol.md, "Schedule shadow")."""

from schedrig import NEW_YORK, SchedRig, bodies, desired, fed, utc

SINGLE, LONG = "SINGLE", "LONG"
EVERY_DAY = 127
WEEKDAYS = 31  # bit0 = Monday .. bit4 = Friday


def test_a_week_in_new_york_across_fall_back_runs_the_repeated_hour_once():
    start = utc(2026, 10, 29, offset_h=-4)  # Thursday 00:00 EDT
    # 01:30 happens twice on Sunday 1 November: fed at the first (EDT), never at the second.
    (body,) = bodies(desired(4, NEW_YORK, [(2, 90, LONG, 2, EVERY_DAY), (5, 420, SINGLE, 1, WEEKDAYS)]))
    r = SchedRig(start)
    try:
        r.apply(body)
        # Day by day (the 64K test heap): every result of the day is exactly its feedings.
        for m, d in ((10, 29), (10, 30), (10, 31), (11, 1), (11, 2), (11, 3), (11, 4)):
            offset = -4 if (m, d) < (11, 1) else -5  # 23:59 on the 1st is EST already
            r.run_until(utc(2026, m, d, 23, 59, offset))
            offset = -4 if (m, d) <= (11, 1) else -5  # 01:30 on the 1st: the first one, EDT
            got = r.take_results()
            due = utc(2026, m, d, 1, 30, offset)
            date = 20260000 + m * 100 + d
            # LONG, two portions: the second follows the first one's dispense (gates one at a time).
            assert fed(got[:2]) == [("sch-4-2-%d-1" % date, due, due, ["left", "right"]),
                                    ("sch-4-2-%d-2" % date, due, got[1][3], ["left", "right"])], date
            assert 0 < got[1][3] - due <= 10
            weekday = [] if (m, d) in ((10, 31), (11, 1)) else [("sch-4-5-%d-1" % date, "dispensed")]
            assert [x[:2] for x in got[2:]] == weekday, date
            if weekday:
                assert got[2][2] == got[2][3] == utc(2026, m, d, 7, 0, offset)
    finally:
        r.close()

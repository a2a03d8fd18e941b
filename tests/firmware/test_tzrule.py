"""tzrule.py and tzparse.py against CPython's zoneinfo (tests/vectors/tz_rules.jsonl, made by
tools/tz_vectors.py), on CPython and MicroPython: the UTC offset at an instant and the local -> UTC rule."""

import json

import tzparse
import tzrule


def zones():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    with open(here + "/../vectors/tz_rules.jsonl") as f:
        for line in f:
            yield json.loads(line)


def test_offsets_match_zoneinfo_in_every_zone():
    checked = 0
    for zone in zones():
        rule = tzparse.parse(zone["rule"])
        assert rule is not None, zone["rule"]
        for utc, expected in zone["offsets"]:
            assert tzrule.utc_offset(rule, utc) == expected, (zone["zone"], utc, expected)
            checked += 1
    assert checked > 300


def test_local_times_map_to_the_first_valid_instant():
    checked = 0
    names = []
    for zone in zones():
        names.append(zone["zone"])
        rule = tzparse.parse(zone["rule"])
        for local_s, expected in zone["locals"]:
            assert tzrule.local_to_utc(rule, local_s) == expected, (zone["zone"], local_s, expected)
            checked += 1
        for change in zone["changes"]:
            assert change in tzrule.changes(rule, tzrule.civil_from_days(change // 86400)[0]), zone["zone"]
    assert checked > 1000
    for name in ("Australia/Sydney", "America/New_York", "Europe/London", "Asia/Kolkata", "America/Santiago"):
        assert name in names


def test_fixed_offsets_and_day_of_year_forms():
    assert tzrule.utc_offset(tzparse.parse("<+0530>-5:30"), 1795730000) == 19800
    assert tzrule.utc_offset(tzparse.parse("UTC0"), 1795730000) == 0
    assert tzrule.utc_offset(tzparse.parse("<-0330>3:30"), 0) == -12600
    # Jn never counts Feb 29; n does. 2028 is a leap year: J60 is March 1, 59 is Feb 29.
    j = tzparse.parse("EST5EDT,J60/0,J300/0")
    n = tzparse.parse("EST5EDT,59/0,299/0")
    march1 = tzrule.days_from_civil(2028, 3, 1) * 86400
    feb29 = tzrule.days_from_civil(2028, 2, 29) * 86400
    assert tzrule.changes(j, 2028)[0] == march1 + 5 * 3600
    assert tzrule.changes(n, 2028)[0] == feb29 + 5 * 3600
    assert tzrule.changes(j, 2027)[0] == tzrule.days_from_civil(2027, 3, 1) * 86400 + 5 * 3600
    # An explicit DST offset, and the last-week form across a month's end.
    half = tzparse.parse("LHST-10:30LHDT-11,M10.1.0,M4.1.0")
    assert half[0] == 37800 and half[1] == 39600
    assert tzrule.changes(tzparse.parse("AAA3BBB,M2.5.0,M10.5.0"), 2026)[0] == (
        tzrule.days_from_civil(2026, 2, 22) * 86400 + 2 * 3600 + 3 * 3600
    )


def test_civil_days_round_trip():
    for days in (-1, 0, 59, 365, 11016, 20425, 20789, 24000):
        y, m, d = tzrule.civil_from_days(days)
        assert tzrule.days_from_civil(y, m, d) == days


def test_bad_rules_are_refused():
    for text in ("", "AEST", "AE-10", "EST5EDT", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0",
                 "EST5EDT,M3.6.0,M11.1.0", "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J300", "EST5EDT,366,1",
                 "EST5x", "<+05", "EST25", "EST5EDT,M3.2.0,M11.1.0/168", 5, None, "A" * 70,
                 "EST5EDT,M3.2.0,M11.1.0junk"):
        assert tzparse.parse(text) is None, text

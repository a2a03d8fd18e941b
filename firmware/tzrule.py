"""Local time from a POSIX TZ rule (the footer line of a zone's TZif data), with integers only.

    AEST-10AEDT,M10.1.0,M4.1.0/3     EST5EDT,M3.2.0,M11.1.0     <+0530>-5:30     UTC0

tzparse.py compiles a rule (imported only when a schedule arrives); here is what runs with it,
a tuple of ints: (std_offset, dst_offset, start, end), offsets in seconds EAST of UTC (POSIX writes
them west, so the sign flips), start/end each (kind, a, b, c, at_s): kind 0 `Jn` (a = n, 1..365, no Feb 29),
1 `n` (a = n, 0..365, Feb 29 counted), 2 `Mm.w.d` (a = m, b = w (5 = last), c = d (0 = Sunday));
at_s the local wall time of the change (default 02:00, may be negative or past 24 h). A zone
without daylight saving has start = end = None. A rule naming a DST zone but no dates is refused
(its dates would be the implementation's guess). schedule.py stores the tuple, not the text.

`utc_offset(rule, utc)`: the offset in force at a Unix instant. `local_to_utc(rule, local_s)`:
the instant of a local wall time (seconds since 1970-01-01 00:00 local), with the schedule's rules
(docs/protocol.md, "Schedule shadow"): a time the clocks skip (spring forward) maps to the instant
of the change, the first valid time after it; a repeated time (fall back) to its first occurrence.
tests/vectors/tz_rules.jsonl (made by tools/tz_vectors.py from CPython's zoneinfo) pins both.
The board's floats are single precision: nothing here uses one.
"""

DAY_S = 86400


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(year, month, day) of a day number since 1970-01-01."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


def _leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _change_local(date, year):
    """Local wall seconds (since 1970, local) of a change rule in a year."""
    kind, a, b, c, at_s = date
    jan1 = days_from_civil(year, 1, 1)
    if kind == 0:
        day = jan1 + a - 1 + (1 if _leap(year) and a >= 60 else 0)
    elif kind == 1:
        day = jan1 + a
    else:
        first = days_from_civil(year, a, 1)
        # 1970-01-01 was a Thursday (4); weekday 0 = Sunday.
        day = first + (c - (first + 4) % 7) % 7 + (b - 1) * 7
        if b == 5:
            next_month = days_from_civil(year + (a // 12), a % 12 + 1, 1)
            while day >= next_month:
                day -= 7
    return day * DAY_S + at_s


def changes(rule, year):
    """(dst_start_utc, dst_end_utc) of a year: the instants the DST offset starts and ends."""
    std, dst, start, end = rule
    return _change_local(start, year) - std, _change_local(end, year) - dst


def utc_offset(rule, utc):
    """Seconds east of UTC in force at the Unix instant utc."""
    std, dst, start, end = rule
    if start is None:
        return std
    begins, ends = changes(rule, civil_from_days((utc + std) // DAY_S)[0])
    if begins < ends:
        in_dst = begins <= utc < ends
    else:  # southern hemisphere: DST spans the new year
        in_dst = not ends <= utc < begins
    return dst if in_dst else std


def local_to_utc(rule, local_s):
    """The Unix instant of a local wall time, by the rules in the module docstring."""
    std, dst = rule[0], rule[1]
    best = None
    for offset in (std, dst):
        utc = local_s - offset
        if utc_offset(rule, utc) == offset and (best is None or utc < best):
            best = utc
    if best is not None:
        return best
    # Skipped by a change: the change's own instant lies between the two readings.
    low, high = local_s - max(std, dst), local_s - min(std, dst)
    year = civil_from_days(local_s // DAY_S)[0]
    for y in (year - 1, year, year + 1):
        for instant in changes(rule, y):
            if low < instant <= high:
                return instant
    return high  # not reached for a rule parse() accepted

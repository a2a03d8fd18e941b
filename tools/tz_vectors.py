"""Write tests/vectors/tz_rules.jsonl: what firmware/tzrule.py must compute, taken from CPython's
zoneinfo (development only; the firmware never imports it).

One line per zone (the 64K-heap MicroPython test reads one at a time): its POSIX TZ rule (the
footer line of its TZif file, what the cloud sends the device),
`offsets` [utc, seconds east] at and around every change of 2026-2028 and mid-month, and `locals`
[local wall seconds since 1970, expected utc] around every change, the expected instant being the
schedule's rule (docs/protocol.md, "Schedule shadow"): a skipped local time maps to the change's
instant, a repeated one to its first occurrence.

    .venv/bin/python -m tools.tz_vectors        (rewrites tests/vectors/tz_rules.jsonl)
"""

import json
import zoneinfo
from datetime import datetime, timedelta, timezone
from pathlib import Path

ZONES = [
    "Australia/Sydney", "America/New_York", "Europe/London", "Asia/Kolkata", "America/Santiago",
    "Pacific/Auckland", "Europe/Dublin", "America/Nuuk", "Pacific/Chatham", "Asia/Kathmandu", "UTC",
]
YEARS = (2026, 2027, 2028)
OUT = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "tz_rules.jsonl"
EPOCH = datetime(1970, 1, 1)


def footer(zone):
    data = zoneinfo.TZPATH and Path(zoneinfo.TZPATH[0], zone).read_bytes()
    return data.rstrip(b"\n").rsplit(b"\n", 1)[1].decode()


def offset(zone, utc):
    return int(datetime.fromtimestamp(utc, zone).utcoffset().total_seconds())


def changes(zone):
    """Every instant of 2026-2028 where the offset changes (hourly scan, then bisection)."""
    found = []
    t = int(datetime(YEARS[0], 1, 1, tzinfo=timezone.utc).timestamp())
    end = int(datetime(YEARS[-1] + 1, 1, 1, tzinfo=timezone.utc).timestamp())
    while t < end:
        if offset(zone, t) != offset(zone, t + 3600):
            low, high = t, t + 3600  # offset(low) differs from offset(high)
            while high - low > 1:
                mid = (low + high) // 2
                if offset(zone, mid) == offset(zone, low):
                    low = mid
                else:
                    high = mid
            found.append(high)
        t += 3600
    return found


def local_seconds(naive):
    return int((naive - EPOCH).total_seconds())


def expected_utc(zone, local_s, change_list):
    naive = EPOCH + timedelta(seconds=local_s)
    valid = []
    for fold in (0, 1):
        aware = naive.replace(tzinfo=zone, fold=fold)
        utc = int(aware.timestamp())
        if local_seconds(datetime.fromtimestamp(utc, zone).replace(tzinfo=None)) == local_s:
            valid.append(utc)
    if valid:
        return min(valid)
    # A skipped wall time: the change whose gap holds it.
    for change in change_list:
        before, after = offset(zone, change - 1), offset(zone, change)
        if change + before <= local_s < change + after:
            return change
    raise AssertionError((zone, local_s))


def vectors(name):
    zone = zoneinfo.ZoneInfo(name)
    change_list = changes(zone)
    offsets, locals_ = [], []
    for year in YEARS:
        for month in range(1, 13):
            utc = int(datetime(year, month, 15, 12, tzinfo=timezone.utc).timestamp())
            offsets.append([utc, offset(zone, utc)])
    for change in change_list:
        for delta in (-3601, -1, 0, 1, 3599, 3600):
            offsets.append([change + delta, offset(zone, change + delta)])
        before, after = offset(zone, change - 1), offset(zone, change)
        low = change + min(before, after) - 7200
        high = change + max(before, after) + 7200
        for local_s in list(range(low - low % 900, high, 900)) + [change + before, change + after - 1]:
            locals_.append([local_s, expected_utc(zone, local_s, change_list)])
    return {"zone": name, "rule": footer(name), "changes": change_list, "offsets": offsets, "locals": locals_}


def main():
    zones = [vectors(z) for z in ZONES]
    OUT.write_text("".join(json.dumps(z, separators=(",", ":")) + "\n" for z in zones))
    print("wrote", OUT, sum(len(z["offsets"]) + len(z["locals"]) for z in zones), "vectors")


if __name__ == "__main__":
    main()

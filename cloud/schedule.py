"""A feeder's schedule, as the ledger keeps it (`ScheduleChanged`, docs/protocol.md "In the ledger") and
as the device receives it (the `schedule` shadow's desired document, docs/protocol.md "Schedule shadow").

    schedule = {"timezone": "Europe/London",                  # the household's IANA zone
                "slots": [{"id": 0, "at": "07:30", "event": "LONG", "portions": 1,
                           "days": ["mon", ..., "sun"]}],     # 0..8 slots
                "paused": False, "skip": [] or [slot id, YYYYMMDD], "grace_min": 30}

`validate(schedule, household, thing)` returns it normalised or raises ScheduleError, one line naming the
field: bad types and bounds, two slots closer than the household's `schedule_min_gap_min` (default 60)
on a common day (across midnight too), more portions a day for a bowl than the feeder's
`max_portions_per_day`, an unknown zone. `desired(schedule, version)` is the shadow's desired document,
with the zone's POSIX TZ rule (`posix_tz`: the footer of its TZif data, from the pinned `tzdata` package
so the hub and Lambda never depend on the OS's zone files). `edit(...)` applies one CLI/page action;
`next_feeding(...)` says when the next slot is due, by the device's rules (DST included).
"""

import importlib.resources
import re
import zoneinfo
from datetime import date, datetime, timedelta

from firmware.press import EVENTS

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SLOTS = 8
MAX_PORTIONS = 4
MAX_GRACE_MIN = 1440
DEFAULT_GRACE_MIN = 30
MAX_TZ = 64
MAX_VERSION = 2**31 - 1
ACTIONS = ("set", "pause", "resume", "skip")
# The bowls each event feeds (the cloud's copy, cloud/handlers/projector.py's BOWLS).
BOWLS = {"SINGLE": ("left",), "DOUBLE": ("right",), "LONG": ("left", "right")}
KEYS = {"timezone", "slots", "paused", "skip", "grace_min"}
SLOT_KEYS = {"id", "at", "event", "portions", "days"}
HH_MM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class ScheduleError(ValueError):
    """One line: the field and what is wrong with it; nothing was changed."""


def empty(timezone_name):
    return {
        "timezone": timezone_name,
        "slots": [],
        "paused": False,
        "skip": [],
        "grace_min": DEFAULT_GRACE_MIN,
    }


def validate(schedule, household, thing):
    """The schedule with its slots sorted by id, or ScheduleError naming the field."""
    valid = structure(schedule)
    posix_tz(valid["timezone"])  # raises on an unknown zone
    _check_gaps(valid["slots"], household["schedule_min_gap_min"])
    _check_caps(valid["slots"], _caps(household, thing))
    return valid


def structure(schedule):
    """Types and bounds only (what the schedules function re-checks on an event): the schedule
    normalised, or ScheduleError."""
    if not isinstance(schedule, dict):
        raise ScheduleError("schedule: expected an object")
    for key in schedule:
        if key not in KEYS:
            expected = ", ".join(sorted(KEYS))
            raise ScheduleError("schedule.%s: unknown key (expected one of %s)" % (key, expected))
    zone = schedule.get("timezone")
    if not isinstance(zone, str) or not zone:
        raise ScheduleError("timezone: expected an IANA time zone such as Europe/London, got %r" % (zone,))
    slots = schedule.get("slots")
    if not isinstance(slots, list) or len(slots) > MAX_SLOTS:
        raise ScheduleError("slots: expected a list of at most %d slots" % MAX_SLOTS)
    slots = sorted(
        (_slot(slot, "slots[%d]" % index) for index, slot in enumerate(slots)), key=lambda slot: slot["id"]
    )
    for first, second in zip(slots, slots[1:], strict=False):
        if first["id"] == second["id"]:
            raise ScheduleError("slots: id %d is used twice" % first["id"])
    if not isinstance(schedule.get("paused"), bool):
        raise ScheduleError("paused: expected true or false, got %r" % (schedule.get("paused"),))
    grace = schedule.get("grace_min")
    if not _is_int(grace, 0, MAX_GRACE_MIN):
        raise ScheduleError("grace_min: expected an integer 0..%d, got %r" % (MAX_GRACE_MIN, grace))
    skip = _skip(schedule.get("skip"), {slot["id"] for slot in slots})
    return {"timezone": zone, "slots": slots, "paused": schedule["paused"], "skip": skip, "grace_min": grace}


def _slot(slot, where):
    if not isinstance(slot, dict) or set(slot) != SLOT_KEYS:
        raise ScheduleError("%s: expected an object with %s" % (where, ", ".join(sorted(SLOT_KEYS))))
    if not _is_int(slot["id"], 0, MAX_SLOTS - 1):
        raise ScheduleError("%s.id: expected an integer 0..%d, got %r" % (where, MAX_SLOTS - 1, slot["id"]))
    if not isinstance(slot["at"], str) or not HH_MM.match(slot["at"]):
        raise ScheduleError("%s.at: expected a local time HH:MM (00:00..23:59), got %r" % (where, slot["at"]))
    if slot["event"] not in EVENTS:
        raise ScheduleError("%s.event: expected SINGLE, DOUBLE or LONG, got %r" % (where, slot["event"]))
    if not _is_int(slot["portions"], 1, MAX_PORTIONS):
        raise ScheduleError(
            "%s.portions: expected an integer 1..%d, got %r" % (where, MAX_PORTIONS, slot["portions"])
        )
    days = slot["days"]
    if (
        not isinstance(days, list)
        or not days
        or any(day not in DAYS for day in days)
        or len(set(days)) != len(days)
    ):
        raise ScheduleError("%s.days: expected some of %s, each once, got %r" % (where, ",".join(DAYS), days))
    return dict(slot, days=[day for day in DAYS if day in days])


def _skip(skip, ids):
    if skip == []:
        return []
    if not (
        isinstance(skip, list)
        and len(skip) == 2
        and _is_int(skip[0], 0, MAX_SLOTS - 1)
        and _is_int(skip[1], 19700101, 99991231)
    ):
        raise ScheduleError("skip: expected [] or [slot id, local date YYYYMMDD], got %r" % (skip,))
    if skip[0] not in ids:
        raise ScheduleError("skip: slot %d is not in the schedule" % skip[0])
    try:
        _date(skip[1])
    except ValueError:
        raise ScheduleError("skip: %d is not a date YYYYMMDD" % skip[1]) from None
    return list(skip)


def _check_gaps(slots, gap):
    """Two slots that can both fire within `gap` minutes: on one day, or late one day and early the next."""
    for index, first in enumerate(slots):
        for second in slots[index + 1 :]:
            for a, b in ((first, second), (second, first)):
                apart = _minutes(b["at"]) - _minutes(a["at"])
                same_day = 0 <= apart < gap and set(a["days"]) & set(b["days"])
                next_day = 0 <= apart + 1440 < gap and any(
                    DAYS[(DAYS.index(day) + 1) % 7] in b["days"] for day in a["days"]
                )
                if same_day or next_day:
                    raise ScheduleError(
                        "slots: slot %d at %s and slot %d at %s are less than the household's"
                        " schedule_min_gap_min (%d min) apart" % (a["id"], a["at"], b["id"], b["at"], gap)
                    )


def _check_caps(slots, caps):
    limit = caps["max_portions_per_day"]
    for day in DAYS:
        for bowl in ("left", "right"):
            total = sum(
                slot["portions"] for slot in slots if day in slot["days"] and bowl in BOWLS[slot["event"]]
            )
            if total > limit:
                raise ScheduleError(
                    "slots: %d portions on %s for the %s bowl, over the feeder's"
                    " max_portions_per_day of %d" % (total, day, bowl, limit)
                )


def _caps(household, thing):
    for entry in household["things"]:
        if entry["thing"] == thing and entry["role"] == "feeder":
            return entry["caps"]
    raise ScheduleError("thing: %r is not a feeder of the household" % (thing,))


def posix_tz(zone):
    """The POSIX TZ rule of an IANA zone: the footer line of its TZif (version 2+) data, which describes
    every transition after the table's last one, so the device needs no zone database."""
    if not isinstance(zone, str) or not zone or ".." in zone or zone.startswith("/"):
        raise ScheduleError("timezone: expected an IANA time zone such as Europe/London, got %r" % (zone,))
    try:
        data = importlib.resources.files("tzdata.zoneinfo").joinpath(zone).read_bytes()
    except (OSError, ValueError):
        raise ScheduleError("timezone: %r is not an IANA time zone (tzdata)" % (zone,)) from None
    lines = data.rsplit(b"\n", 2)
    if not data.startswith(b"TZif") or len(lines) != 3 or not lines[1] or len(lines[1]) > MAX_TZ:
        raise ScheduleError("timezone: %r has no POSIX TZ rule of at most %d characters" % (zone, MAX_TZ))
    return lines[1].decode("ascii")


def desired(schedule, version, tz):
    """The shadow's desired document for this (validated) schedule at this version, with `tz` the zone's
    POSIX rule as the ScheduleChanged event recorded it (what the device was sent, even if a later tzdata
    changes the rule)."""
    if not _is_int(version, 1, MAX_VERSION):
        raise ScheduleError("version: expected an integer 1..%d, got %r" % (MAX_VERSION, version))
    if not isinstance(tz, str) or not 1 <= len(tz) <= MAX_TZ:
        raise ScheduleError("tz: expected a POSIX TZ rule of 1..%d characters, got %r" % (MAX_TZ, tz))
    return {
        "version": version,
        "tz": tz,
        "slots": [
            {
                "id": slot["id"],
                "at": _minutes(slot["at"]),
                "event": slot["event"],
                "portions": slot["portions"],
                "days": sum(1 << DAYS.index(day) for day in slot["days"]),
            }
            for slot in schedule["slots"]
        ],
        "paused": schedule["paused"],
        "skip": list(schedule["skip"]),
        "grace_s": schedule["grace_min"] * 60,
    }


def edit(current, action, household, thing, now, slot=None, remove=None, grace_min=None):
    """(action, new schedule) after one change, validated; `current` None means no schedule yet.
    action: set (with `slot`, a slot dict to add or replace by id, or `remove`, a slot id, or
    `grace_min`), pause, resume, skip (the next occurrence, from `now`)."""
    schedule = dict(current) if current else empty(household["timezone"])
    schedule["timezone"] = household["timezone"]  # the household's zone, whatever it was when last set
    if action == "set":
        if slot is None and remove is None and grace_min is None:
            raise ScheduleError("set: give a slot to set, a slot to remove or a grace")
        slots = list(schedule["slots"])
        if slot is not None:
            slots = [s for s in slots if s.get("id") != (slot.get("id") if isinstance(slot, dict) else None)]
            slots.append(slot)
        if remove is not None:
            if remove not in [s["id"] for s in slots]:
                raise ScheduleError("slot: %r is not in the schedule" % (remove,))
            slots = [s for s in slots if s["id"] != remove]
        schedule["slots"] = slots
        if grace_min is not None:
            schedule["grace_min"] = grace_min
        if schedule.get("skip") and schedule["skip"][0] not in [s.get("id") for s in slots]:
            schedule["skip"] = []  # the skipped slot is gone
    elif action in ("pause", "resume"):
        schedule["paused"] = action == "pause"
    elif action == "skip":
        validate(schedule, household, thing)
        upcoming = next_feeding(dict(schedule, paused=False, skip=[]), now)
        if upcoming is None:
            raise ScheduleError("skip: the schedule has no slot to skip")
        schedule["skip"] = [upcoming["slot"], upcoming["date"]]
    else:
        raise ScheduleError("action: expected one of %s, got %r" % (", ".join(ACTIONS), action))
    return action, validate(schedule, household, thing)


def next_feeding(schedule, now):
    """The next occurrence due after `now` (Unix seconds): {"slot", "date" YYYYMMDD, "due" Unix seconds,
    "local" "YYYY-MM-DD HH:MM" in the zone}, or None (paused, no slots). A skipped occurrence is passed
    over. Its instant follows the device's DST rules (docs/protocol.md, "Schedule shadow")."""
    if schedule["paused"] or not schedule["slots"]:
        return None
    zone = zoneinfo.ZoneInfo(schedule["timezone"])
    today = datetime.fromtimestamp(now, zone).date()
    found = []
    for offset in range(8):
        day = today + timedelta(days=offset)
        for slot in schedule["slots"]:
            stamp = int(day.strftime("%Y%m%d"))
            if DAYS[day.weekday()] not in slot["days"] or [slot["id"], stamp] == schedule["skip"]:
                continue
            due = due_at(day, _minutes(slot["at"]), zone)
            if due > now:
                found.append((due, slot["id"], stamp))
        if found:
            due, slot_id, stamp = min(found)
            local = datetime.fromtimestamp(due, zone)
            return {"slot": slot_id, "date": stamp, "due": due, "local": local.strftime("%Y-%m-%d %H:%M %Z")}
    return None


def due_at(day, minutes, zone):
    """Unix seconds of local `minutes` after midnight on `day`: in the repeated hour its first occurrence;
    in the hour that does not exist, the first valid instant after it (the moment the clocks jump)."""
    naive = datetime(day.year, day.month, day.day) + timedelta(minutes=minutes)
    first = int(naive.replace(tzinfo=zone, fold=0).timestamp())
    if datetime.fromtimestamp(first, zone).replace(tzinfo=None) == naive:
        return first
    # Nonexistent: the jump lies between the two readings; find its first second by bisection.
    low, high = sorted((first, int(naive.replace(tzinfo=zone, fold=1).timestamp())))
    while low < high:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle + 1
    return low


def describe(schedule, now):
    """Lines for people: each slot, the state, the next feeding in the household's local time."""
    if not schedule:
        return ["no schedule"]
    lines = [
        "time zone %s%s, grace %d min"
        % (schedule["timezone"], ", PAUSED" if schedule["paused"] else "", schedule["grace_min"])
    ]
    for slot in schedule["slots"]:
        lines.append(
            "slot %d: %s %s x%d on %s"
            % (slot["id"], slot["at"], slot["event"], slot["portions"], _days_text(slot["days"]))
        )
    if schedule["skip"]:
        lines.append("skipping slot %d on %s" % (schedule["skip"][0], _date(schedule["skip"][1]).isoformat()))
    upcoming = next_feeding(schedule, now)
    lines.append(
        "next feeding: %s" % ("slot %d at %s" % (upcoming["slot"], upcoming["local"]) if upcoming else "none")
    )
    return lines


def parse_days(text):
    """`daily`, `weekdays`, `weekends` or a comma list such as mon,wed,fri (the CLI's and the page's)."""
    named = {"daily": list(DAYS), "weekdays": list(DAYS[:5]), "weekends": list(DAYS[5:])}
    if text in named:
        return named[text]
    return [day.strip().lower() for day in text.split(",") if day.strip()]


def _days_text(days):
    return "every day" if len(days) == 7 else ",".join(days)


def _minutes(hh_mm):
    return int(hh_mm[:2]) * 60 + int(hh_mm[3:])


def _date(stamp):
    return date(stamp // 10000, stamp // 100 % 100, stamp % 100)


def _is_int(value, low, high):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

"""The schedule model (cloud/schedule.py): validation in one line per mistake, the POSIX TZ rule from the
pinned tzdata, the desired document, the next feeding by the device's DST rules; the projection's
schedule row (order-independent) and the states function's scheduled results and reports."""

import itertools
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from cloud import household as household_mod
from cloud import schedule
from cloud.handlers import projector, states

HOUSEHOLD = household_mod.validate(
    {
        "timezone": "Australia/Sydney",
        "schedule_min_gap_min": 60,
        "things": [{"thing": "kitchen", "caps": {"max_portions_per_hour": 4, "max_portions_per_day": 4}}],
    }
)
NOW = 1796418000  # Fri 4 Dec 2026 21:00 UTC: Sat 5 Dec 08:00 in Sydney (AEDT)


def slot(id_=0, at="07:30", event="LONG", portions=1, days=schedule.DAYS):
    return {"id": id_, "at": at, "event": event, "portions": portions, "days": list(days)}


def build(*slots, **fields):
    return dict(schedule.empty("Australia/Sydney"), slots=list(slots), **fields)


@pytest.mark.parametrize(
    "bad, said",
    [
        (
            build(slot(), slot(1, "08:29")),
            "slot 0 at 07:30 and slot 1 at 08:29 are less than the household's",
        ),
        (
            build(slot(0, "23:30", days=["mon"]), slot(1, "00:20", days=["tue"])),
            "slot 0 at 23:30 and slot 1 at 00:20",
        ),
        (
            build(slot(portions=3), slot(1, "18:00", "SINGLE", 2, ["sun"])),
            "5 portions on sun for the left bowl",
        ),
        (build(slot(portions=5)), "slots[0].portions: expected an integer 1..4"),
        (build(slot(portions=True)), "slots[0].portions"),
        (build(slot(at="7:30")), "slots[0].at: expected a local time HH:MM"),
        (build(slot(days=[])), "slots[0].days"),
        (build(slot(days=["mon", "mon"])), "slots[0].days"),
        (build(slot(), slot(0, "18:00")), "slots: id 0 is used twice"),
        (build(*[slot(n, "%02d:00" % (2 * n)) for n in range(9)]), "slots: expected a list of at most 8"),
        (build(slot(), skip=[3, 20261205]), "skip: slot 3 is not in the schedule"),
        (build(slot(), skip=[0, 20260231]), "skip: 20260231 is not a date"),
        (build(slot(), grace_min=-1), "grace_min: expected an integer 0..1440"),
        (build(slot(), paused="no"), "paused: expected true or false"),
        (dict(build(slot()), timezone="Mars/Olympus"), "timezone: 'Mars/Olympus' is not an IANA time zone"),
        (dict(build(slot()), colour="red"), "schedule.colour: unknown key"),
    ],
)
def test_a_bad_schedule_is_one_line_naming_the_field(bad, said):
    with pytest.raises(schedule.ScheduleError) as error:
        schedule.validate(bad, HOUSEHOLD, "kitchen")
    assert said in str(error.value) and "\n" not in str(error.value)


def test_slots_just_the_gap_apart_and_the_cap_exactly_are_valid():
    valid = schedule.validate(
        build(slot(1, "08:30", portions=2), slot(0, "07:30", portions=2)), HOUSEHOLD, "kitchen"
    )
    assert [s["id"] for s in valid["slots"]] == [0, 1]


def test_the_posix_rule_is_the_tzif_footer_and_desired_packs_minutes_and_days():
    assert schedule.posix_tz("Australia/Sydney") == "AEST-10AEDT,M10.1.0,M4.1.0/3"
    assert schedule.posix_tz("America/New_York") == "EST5EDT,M3.2.0,M11.1.0"
    assert schedule.posix_tz("UTC") == "UTC0"
    with pytest.raises(schedule.ScheduleError):
        schedule.posix_tz("../../etc/passwd")
    valid = schedule.validate(
        build(slot(3, "18:05", "DOUBLE", 2, ["mon", "sun"]), skip=[3, 20261207]), HOUSEHOLD, "kitchen"
    )
    assert schedule.desired(valid, 9, "AEST-10AEDT,M10.1.0,M4.1.0/3") == {
        "version": 9,
        "tz": "AEST-10AEDT,M10.1.0,M4.1.0/3",
        "paused": False,
        "skip": [3, 20261207],
        "grace_s": 1800,
        "slots": [{"id": 3, "at": 1085, "event": "DOUBLE", "portions": 2, "days": 65}],
    }
    for version in (0, 2**31, True):
        with pytest.raises(schedule.ScheduleError, match="version"):
            schedule.desired(valid, version, "UTC0")


def utc(moment):
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%d %H:%M")


def test_due_times_across_daylight_saving():
    sydney, new_york = ZoneInfo("Australia/Sydney"), ZoneInfo("America/New_York")
    # New York springs forward at 02:00 on 8 Mar 2026: 02:30 does not exist, it runs at 03:00 EDT.
    assert utc(schedule.due_at(date(2026, 3, 8), 150, new_york)) == "2026-03-08 07:00"
    # Falls back at 02:00 on 1 Nov 2026: 01:30 happens twice, it runs at the first (EDT).
    assert utc(schedule.due_at(date(2026, 11, 1), 90, new_york)) == "2026-11-01 05:30"
    # Sydney springs forward at 02:00 on 4 Oct 2026 and falls back at 03:00 on 5 Apr 2026.
    assert utc(schedule.due_at(date(2026, 10, 4), 150, sydney)) == "2026-10-03 16:00"
    assert utc(schedule.due_at(date(2026, 4, 5), 150, sydney)) == "2026-04-04 15:30"
    assert utc(schedule.due_at(date(2026, 12, 5), 450, sydney)) == "2026-12-04 20:30"


def test_next_feeding_passes_over_a_skip_and_none_when_paused():
    found = build(slot(0, "07:30"), slot(1, "18:00", "SINGLE", days=["sat"]))
    assert schedule.next_feeding(found, NOW) == {
        "slot": 1,
        "date": 20261205,
        "due": 1796454000,
        "local": "2026-12-05 18:00 AEDT",
    }
    _, skipped = schedule.edit(found, "skip", HOUSEHOLD, "kitchen", NOW)
    assert skipped["skip"] == [1, 20261205]
    assert schedule.next_feeding(skipped, NOW)["local"] == "2026-12-06 07:30 AEDT"
    _, paused = schedule.edit(found, "pause", HOUSEHOLD, "kitchen", NOW)
    assert schedule.next_feeding(paused, NOW) is None
    _, removed = schedule.edit(skipped, "set", HOUSEHOLD, "kitchen", NOW, remove=1)
    assert removed["skip"] == [] and [s["id"] for s in removed["slots"]] == [0]
    with pytest.raises(schedule.ScheduleError, match="set: give a slot"):
        schedule.edit(found, "set", HOUSEHOLD, "kitchen", NOW)


def changed(version, at, **extra):
    detail = {
        "thing": "kitchen",
        "version": version,
        "action": "set",
        "origin": "cli",
        "tz": "UTC0",
        "schedule": build(slot(at=at)),
        **extra,
    }
    return {"detail-type": "ScheduleChanged", "time": "2026-12-05T0%d:00:00Z" % version, "detail": detail}


class Store:
    def __init__(self):
        self.rows = {}

    def get(self, key):
        return self.rows.get(key, (None, 0))

    def put(self, key, doc, version, requested_at=None):
        self.rows[key] = (doc, version + 1)


def test_the_schedule_row_is_the_highest_version_and_the_highest_report_in_any_order():
    reports = [
        {
            "detail-type": "ScheduleReported",
            "detail": {"thing": "kitchen", "version": v, "clock": "ntp", "at": 1796400000 + v},
        }
        for v in (1, 3, 2)
    ]
    events = [changed(1, "07:00"), changed(3, "09:00"), changed(2, "08:00"), *reports, changed(2, "08:00")]
    rows = set()
    for order in itertools.islice(itertools.permutations(events), 0, None, 97):
        store = Store()
        for event in order:
            projector.project(store, event)
        row = store.get("schedule#kitchen")[0]
        rows.add(repr(sorted(row.items())))
    assert len(rows) == 1
    assert row["changed"]["version"] == 3 and row["changed"]["schedule"]["slots"][0]["at"] == "09:00"
    assert row["reported"] == {"version": 3, "clock": "ntp", "error": None, "at": 1796400003}


# A scheduled feeding the device could not feed: its result (docs/protocol.md, "Result").
MISSED = {
    "v": 1,
    "type": "result",
    "thing": "kitchen",
    "seq": 5,
    "id": "sch-7-0-20261205-1",
    "status": "missed",
    "bowls": [],
    "at": 1796420000,
    "origin": "schedule",
    "due": 1796416200,
}


def test_a_scheduled_result_is_a_row_at_its_due_time():
    store = Store()
    assert states.parse_state(dict(MISSED)) == MISSED
    projector.project(store, {"detail-type": "FeedResult", "detail": MISSED})
    row = store.get("press#sch-7-0-20261205-1")[0]
    assert (row["origin"], row["requested_at"], row["outcome"]) == ("schedule", 1796416200, "missed")


@pytest.mark.parametrize(
    "change, said",
    [
        ({"status": "eaten"}, "status: expected one of"),
        ({"origin": "cloud"}, "origin: expected schedule"),
        ({"due": "soon"}, "due: expected integer Unix seconds"),
    ],
)
def test_states_refuse_a_bad_scheduled_result(change, said):
    states.parse_state(dict(MISSED, status="skipped"))
    with pytest.raises(states.InvalidState, match=said):
        states.parse_state(dict(MISSED, **change))


def test_states_take_a_schedule_report():
    report = {
        "v": 1,
        "type": "schedule",
        "thing": "kitchen",
        "at": 1796420000,
        "version": 7,
        "clock": "untrusted",
    }
    assert states.parse_state(dict(report)) == report
    assert states.parse_state(dict(report, version=6, error="slots[0].at: out of range"))["error"]
    for bad, said in (({"version": -1}, "version"), ({"clock": "gps"}, "clock"), ({"error": ""}, "error")):
        with pytest.raises(states.InvalidState, match=said):
            states.parse_state(dict(report, **bad))

"""The schedule's rare work, imported for one call (schedule.py, through bootonly.call) and released:
a validated document applied, the occurrences due in (last, now] handled, and the next one's UTC
instant found. Also the stored document's layout, which schedule_doc.py writes.

The rules (which occurrences run, grace, missed, paused and skip, daylight saving) are
docs/protocol.md's "Schedule shadow". An occurrence fed goes through Feeder.handle (journal, cap,
servo), with the id `sch-<version>-<slot>-<YYYYMMDD>-<k>`; a missed or skipped one is a result of its
own. `last` is written after each occurrence handled.

Flash (`<storage.dir>/schedule/`, smallfiles.py records):
- `doc`: kind schedule.DOC, body `u32 version | u32 grace_s | u8 paused | i8 skip slot (-1 none) |
  u32 skip date YYYYMMDD | u8 slot count | slots (u8 id, u16 at, u8 bowls, u8 portions, u8 days)
  | the compiled TZ rule (tzrule.py's tuple: i32 std, i32 dst, then start and end each u8 kind
  (255: no DST), u8 a, u8 b, u8 c, i32 at_s)`: the device keeps this body as it is, one bytes object;
- `last`: kind schedule.LAST, body `u32` the last instant evaluated (Unix seconds): when it is
  written, and why an older value is enough, is schedule.py's.
"""

import struct

import tzrule
from messages import MISSED, SKIPPED, pack_result
from micropython import const
from schedule import DOC

HEAD = "<IIBbIB"
HEAD_LEN = const(15)
SLOT = "<BHBBB"
_SLOT_LEN = const(6)
RULE = "<iiBBBBiBBBBi"
NO_DST = const(255)
# Occurrences further back than this are not reported one by one (a device off for weeks would fill
# its outbox with `missed`, which keeps 64): the journal's horizon, a day.
_LOOKBACK_S = const(86400)
DAY_S = const(86400)
# How far ahead the next occurrence is looked for; none within it: look again at its end.
_AHEAD_S = const(2 * 86400)


def apply(schedule, doc):
    """Persist and run a validated document body (schedule_doc.py) on schedule.Schedule: the last
    instant first, so an edit never re-fires a slot of today (docs/protocol.md). On an untrusted
    clock `now` is not known: 0 (no previous evaluation) makes the first trusted check start from
    its now."""
    clock = schedule.clock
    schedule.save_last(max(schedule.last, clock.unix_time()) if clock.clock_trusted() else 0)
    schedule.write("doc", DOC, doc)
    schedule.adopt(doc, schedule.last)


def run(schedule, now):
    """Handle the occurrences of schedule.Schedule due in (last, now]; the UTC instant of the next one
    after both (or, with none within _AHEAD_S, the instant to look again)."""
    doc = schedule.doc
    version, grace_s, paused, skip_slot, skip_date, count = struct.unpack_from(HEAD, doc, 0)
    r = struct.unpack_from(RULE, doc, HEAD_LEN + count * _SLOT_LEN)
    rule = (r[0], r[1], None, None) if r[2] == NO_DST else (r[0], r[1], r[2:7], r[7:12])
    last = schedule.last
    after = max(last, now - _LOOKBACK_S)
    horizon = max(last, now) + _AHEAD_S
    # Only the due ones are listed (sorted: the order they are handled in), as the dispenses run with
    # this module loaded; the next one is a minimum.
    for due, index, day in sorted(_occurrences(doc, count, rule, after, now)):
        slot_id, _, bowls, portions, _ = struct.unpack_from(SLOT, doc, HEAD_LEN + index * _SLOT_LEN)
        y, m, d = tzrule.civil_from_days(day)
        date = y * 10000 + m * 100 + d
        skipped = paused or (slot_id == skip_slot and date == skip_date)
        for k in range(1, portions + 1):
            command_id = "sch-%d-%d-%d-%d" % (version, slot_id, date, k)
            if skipped:
                schedule.outbox.put(pack_result(command_id, SKIPPED, 0, now, None, due))
            elif now - due > grace_s:
                schedule.outbox.put(pack_result(command_id, MISSED, 0, now, None, due))
            else:
                schedule.feeder.handle(None, command_id, bowls, due)
        schedule.save_last(due)
    upcoming = horizon
    for due, _, _ in _occurrences(doc, count, rule, max(last, now), horizon):
        upcoming = min(upcoming, due)
    return upcoming


def _occurrences(doc, count, rule, after, until):
    """(due, slot index, local day number) of each occurrence due in (after, until], in no order."""
    first = (after + tzrule.utc_offset(rule, after)) // DAY_S - 1
    last = (until + tzrule.utc_offset(rule, until)) // DAY_S + 1
    for day in range(first, last + 1):
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday, the days bitmask's bit 0
        for index in range(count):
            _, at, _, _, days = struct.unpack_from(SLOT, doc, HEAD_LEN + index * _SLOT_LEN)
            if days >> weekday & 1:
                due = tzrule.local_to_utc(rule, day * DAY_S + at * 60)
                if after < due <= until:
                    yield due, index, day

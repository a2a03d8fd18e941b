"""The feeding schedule on the device: kept in flash, run from the device's own clock, offline too.

The rules (which occurrences run, grace, missed, paused and skip, daylight saving, the trusted
clock) are docs/protocol.md's "Schedule shadow"; this module carries them out. What stays in the
heap is small on purpose (the goal: under 4 KB with 8 slots, bench/module_heap.py): the document
as a few ints, the slots as one bytes object of 6 bytes each, the compiled TZ rule as a tuple.
The JSON is parsed and validated by schedule_doc.py, imported only when a document arrives.

Flash (`<storage.dir>/schedule/`, smallfiles.py records):
- `doc`: kind DOC, body `u32 version | u32 grace_s | u8 paused | i8 skip slot (-1 none) |
  u32 skip date YYYYMMDD | u8 slot count | slots (u8 id, u16 at, u8 bowls, u8 portions, u8 days)
  | the compiled TZ rule (tzrule.py's tuple: i32 std, i32 dst, then start and end each u8 kind
  (255: no DST), u8 a, u8 b, u8 c, i32 at_s)`: the text's parser (tzparse.py) never stays loaded;
- `last`: kind LAST, body `u32` the last instant evaluated (Unix seconds). It is written only when
  an occurrence was handled, a version applied, or at the first trusted check: between those no
  occurrence was due, so an older value covers the same occurrences. `last` is written before
  `doc` on apply, so a cut between them keeps the old document with the new instant.

`poll(now_ms)` is the main loop's check: a ticks comparison, no allocation, until the next
occurrence or CHECK_MAX_MS; `check(now)` then handles every occurrence due in (last, now] and says
when to look again. An occurrence fed goes through Feeder.handle (journal, cap, servo),
with the id `sch-<version>-<slot>-<YYYYMMDD>-<k>`; a missed or skipped one is a result of its own.
"""

import struct

import tzrule
from messages import MISSED, SKIPPED, pack_result
from micropython import const
from smallfiles import SmallFiles

DOC = 1
LAST = 2
HEAD = "<IIBbIB"
HEAD_LEN = const(15)
SLOT = "<BHBBB"
SLOT_LEN = const(6)
RULE = "<iiBBBBiBBBBi"
RECORD_MAX = const(128)  # the largest record: a doc of 8 slots is 5 + 15 + 48 + 24 bytes
NO_DST = const(255)
CHECK_MAX_MS = 60000  # looked at at least this often (a clock set or moved meanwhile)
UNTRUSTED_CHECK_MS = 1000  # until NTP set the clock: only clock_trusted() is asked
# Occurrences further back than this are not reported one by one (a device off for weeks would fill
# its outbox with `missed`, which keeps 64): the journal's horizon, a day.
LOOKBACK_S = 86400
DAY_S = 86400


class Schedule:
    def __init__(self, directory, clock, feeder, outbox, check_max_ms=None):
        """check_max_ms: the longest wait between two checks (None: CHECK_MAX_MS; a test moving the
        sim's clock by days shortens it)."""
        self.check_max_ms = check_max_ms or CHECK_MAX_MS
        self.files = SmallFiles(directory + "/schedule")
        self.clock = clock
        self.feeder = feeder
        self.outbox = outbox
        self.version = 0  # 0: no schedule applied
        self.rule = None  # the compiled TZ rule (tzrule.py's tuple)
        self.slots = b""
        self.paused = False
        self.skip_slot = -1
        self.skip_date = 0
        self.grace_s = 0
        self.last = 0  # the last instant evaluated; 0: never (set at the first trusted check)
        self._check_ms = clock.ticks_ms()
        self._wait_ms = 0

    # -- the document -------------------------------------------------------------------------------

    def adopt(self, doc, last):
        """The records read back at boot (restore.load_schedule): doc's body or None, last or 0."""
        self.last = last
        if doc is not None:
            self._take(doc)

    def _take(self, doc):
        version, grace_s, paused, skip_slot, skip_date, count = struct.unpack_from(HEAD, doc, 0)
        end = HEAD_LEN + count * SLOT_LEN
        r = struct.unpack_from(RULE, doc, end)
        if r[2] == NO_DST:
            self.rule = (r[0], r[1], None, None)
        else:
            self.rule = (r[0], r[1], r[2:7], r[7:12])
        self.slots = bytes(doc[HEAD_LEN:end])
        self.version = version
        self.grace_s = grace_s
        self.paused = bool(paused)
        self.skip_slot = skip_slot
        self.skip_date = skip_date
        self._wait_ms = 0  # look again at once

    def apply(self, doc):
        """Persist and run a validated document body (schedule_doc.py): the last instant first, so an
        edit never re-fires a slot of today (docs/protocol.md). On an untrusted clock `now` is not
        known: 0 (no previous evaluation) makes the first trusted check start from its now."""
        if self.clock.clock_trusted():
            self._save_last(max(self.last, self.clock.unix_time()))
        else:
            self._save_last(0)
        self.files.write("doc", DOC, doc)
        self._take(doc)

    def _save_last(self, instant):
        self.files.write("last", LAST, struct.pack("<I", instant))
        self.last = instant

    # -- running it ---------------------------------------------------------------------------------

    def poll(self, now_ms):
        """The main loop's cheap check: evaluates only when the deadline check() set has passed."""
        if self.clock.ticks_diff(now_ms, self._check_ms) < self._wait_ms:
            return
        self._check_ms = now_ms
        self._wait_ms = self.check(self.clock.unix_time())

    def wait_ms(self, now_ms):
        """How long the loop may sleep before poll has something to do."""
        return max(0, self._wait_ms - self.clock.ticks_diff(now_ms, self._check_ms))

    def check(self, now):
        """Handle the occurrences due in (last, now]; the ms until the next check."""
        if not self.clock.clock_trusted():
            return UNTRUSTED_CHECK_MS
        if self.last == 0:
            self._save_last(now)  # the first trusted check since none, or since an edit: from now on
        if self.rule is None or now <= self.last:
            return self.check_max_ms  # no schedule, or the clock went back: nothing re-fires
        for due, index, day in self._occurrences(max(self.last, now - LOOKBACK_S), now):
            self._run(index, day, due, now)
            self._save_last(due)
        self.last = now  # no occurrence in between: flash may keep the older instant (docstring)
        upcoming = self._occurrences(now, now + DAY_S + DAY_S)
        if upcoming:
            return min(self.check_max_ms, (upcoming[0][0] - now) * 1000)
        return self.check_max_ms

    def _occurrences(self, after, until):
        """[(due, slot index, local day number)] due in (after, until], oldest first."""
        rule = self.rule
        first = (after + tzrule.utc_offset(rule, after)) // DAY_S - 1
        last = (until + tzrule.utc_offset(rule, until)) // DAY_S + 1
        found = []
        slots = self.slots
        for day in range(first, last + 1):
            weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday, the days bitmask's bit 0
            for index in range(len(slots) // SLOT_LEN):
                _, at, _, _, days = struct.unpack_from(SLOT, slots, index * SLOT_LEN)
                if days >> weekday & 1:
                    due = tzrule.local_to_utc(rule, day * DAY_S + at * 60)
                    if after < due <= until:
                        found.append((due, index, day))
        found.sort()
        return found

    def _run(self, index, day, due, now):
        slot_id, _, bowls, portions, _ = struct.unpack_from(SLOT, self.slots, index * SLOT_LEN)
        y, m, d = tzrule.civil_from_days(day)
        date = y * 10000 + m * 100 + d
        skipped = self.paused or (slot_id == self.skip_slot and date == self.skip_date)
        for k in range(1, portions + 1):
            command_id = "sch-%d-%d-%d-%d" % (self.version, slot_id, date, k)
            if skipped:
                self.outbox.put(pack_result(command_id, SKIPPED, 0, now, None, due))
            elif now - due > self.grace_s:
                self.outbox.put(pack_result(command_id, MISSED, 0, now, None, due))
            else:
                self.feeder.handle(None, command_id, bowls, due)

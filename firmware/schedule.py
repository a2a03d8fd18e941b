"""The feeding schedule on the device: kept in flash, run from the device's own clock, offline too.

What stays in the heap is small on purpose (the goal: under 4 KB with 8 slots, bench/schedule_mpy.py):
the stored document as one bytes object (schedule_run.py's layout), a few ints, and the code of the
main loop's checks. The rare work runs through bootonly.call and leaves the heap after each call:
schedule_run.py (with tzrule.py) to apply a document, when an occurrence is due, after an edit and at
boot; schedule_doc.py (with tzparse.py) for each shadow message and report.

`last` (flash and here) is the last instant evaluated. It is written only when an occurrence was
handled, a version applied, or at the first trusted check: between those no occurrence was due, so
an older value covers the same occurrences. `last` is written before `doc` on apply, so a cut
between them keeps the old document with the new instant.

`poll(now_ms)` is the main loop's check: a ticks comparison, no allocation, until the next
occurrence or 60 s; `check(now)` then compares now with the next occurrence's instant and
only when it has come (or is not known) has schedule_run.py handle every occurrence due in
(last, now] and find the next.
"""

import struct

import bootonly
from micropython import const
from smallfiles import SmallFiles

DOC = const(1)  # the records' kinds (their layout: schedule_run.py)
LAST = const(2)
RECORD_MAX = const(128)  # the largest record: a doc of 8 slots is 5 + 15 + 48 + 24 bytes
_CHECK_MAX_MS = const(60000)  # looked at at least this often (a clock set or moved meanwhile)
_UNTRUSTED_CHECK_MS = const(1000)  # until NTP set the clock: only clock_trusted() is asked


class Schedule:
    def __init__(self, directory, clock, feeder, outbox, check_max_ms=None):
        """check_max_ms: the longest wait between two checks (None: 60 s; a test moving the sim's
        clock by days shortens it)."""
        self.check_max_ms = check_max_ms or _CHECK_MAX_MS
        self.directory = directory + "/schedule"  # smallfiles.py records (schedule_run.py)
        self.in_place = False  # SmallFiles.in_place: set at boot by restore.load_schedule
        self.clock = clock
        self.feeder = feeder
        self.outbox = outbox
        self.doc = None  # the stored document body; None: no schedule applied
        self.version = 0  # the applied document's; 0: none
        self.last = 0  # the last instant evaluated; 0: never (set at the first trusted check)
        self.due = 0  # the next occurrence's UTC instant (schedule_run.run); 0: to be found
        self._check_ms = clock.ticks_ms()
        self._wait_ms = 0

    def adopt(self, doc, last):
        """The records read back at boot (restore.load_schedule), and apply's: doc's body or None,
        last or 0."""
        self.last = last
        if doc is not None:
            self.doc = doc
            self.version = struct.unpack_from("<I", doc, 0)[0]
            self.due = 0
            self._wait_ms = 0  # look again at once

    def apply(self, doc):
        """Persist and run a validated document body (schedule_doc.py): schedule_run.apply."""
        bootonly.call("schedule_run", "apply", self, doc)

    def save_last(self, instant):
        """Write the last instant evaluated (also schedule_run.run's, after each occurrence)."""
        self.write("last", LAST, struct.pack("<I", instant))
        self.last = instant

    def write(self, name, kind, body):
        """Replace the record `name` (smallfiles.py). A SmallFiles only while writing (rare): its
        write buffer would stay in the heap."""
        files = SmallFiles(self.directory)
        files.in_place = self.in_place
        files.write(name, kind, body)

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
            return _UNTRUSTED_CHECK_MS
        if self.last == 0:
            self.save_last(now)  # the first trusted check since none, or since an edit: from now on
        if self.doc is None:
            return self.check_max_ms
        if self.due == 0 or self.due <= now:
            self.due = bootonly.call("schedule_run", "run", self, now)
        if now > self.last:
            self.last = now  # nothing due in between: flash may keep the older instant (docstring)
        return min(self.check_max_ms, (self.due - now) * 1000)

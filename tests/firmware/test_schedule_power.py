"""A power cut at the moment a slot fires, at every point (CPython and MicroPython): before and after
each flash write (journal begin and finish, the result, the last evaluated instant) and before each
servo write. After the reboot the occurrence is never fed twice and is reported exactly once,
`dispensed` or `interrupted` (docs/protocol.md, "Schedule shadow"). The same cut against the device
process and real mosquitto: tests/integration/test_device_schedule.py.

Its own small rig, not feederrig's: the sim HAL alone is 7 KB of the 64K MicroPython test heap, and
a reboot needs room for restore.py."""

import gc
import json

import bootonly
import smallfiles
from fwtest import remove_tree, tmpdir

gc.collect()
from cap import Cap  # noqa: E402
from feeder import Feeder  # noqa: E402
from journal import Journal  # noqa: E402
from messages import render  # noqa: E402
from outbox import Outbox  # noqa: E402
from schedule import Schedule  # noqa: E402
from servo import Dispenser, Servo  # noqa: E402

DUE = 1796086800  # 2026-12-01 01:00 UTC: the slot, in UTC0
OUT_NS = 1500000  # the dispense position's pulse (90 degrees)
CONFIG = {"commands": {"default_ttl_s": 300, "max_ttl_s": 3600}}
DOC = b'{"state": {"desired": {"version": 1, "tz": "UTC0", "paused": false, "skip": [], "grace_s": 1800,' \
      b' "slots": [{"id": 0, "at": 60, "event": "SINGLE", "portions": 1, "days": 127}]}}}'


class PowerCut(BaseException):
    """Not an Exception: nothing in the firmware catches it, as nothing survives a power cut."""


class Board:
    """The clock and PWM the firmware uses here (hal_sim's methods, virtual time), counting the points
    a cut can hit while armed and cutting at the n-th."""

    def __init__(self, n):
        self.now_ms = 0
        self.n = n
        self.points = 0
        self.armed = False
        self.out_moves = 0

    def point(self):
        if self.armed:
            self.points += 1
            if self.points == self.n:
                self.armed = False
                raise PowerCut()

    def pwm(self, pin):
        return self

    def freq(self, hz):
        pass

    def duty_ns(self, ns):
        self.point()
        self.out_moves += ns == OUT_NS

    def deinit(self):
        self.point()

    def sleep_ms(self, ms):
        self.now_ms += ms

    def ticks_ms(self):
        return self.now_ms

    def ticks_diff(self, a, b):
        return a - b

    def unix_time(self):
        return DUE - 10 + self.now_ms // 1000

    def clock_trusted(self):
        return True

    def watchdog_feed(self):
        pass

    def led(self, state):
        pass


def boot(directory, board):
    """The device's storage and decision path, as App wires them, after a (re)boot."""
    journal = Journal(directory, 86400, 32)
    outbox = Outbox(directory, 8)
    bootonly.call("restore", "report_interrupted", journal, outbox, board)
    dispenser = Dispenser(board, Servo(board, 3), Servo(board, 4))
    feeder = Feeder(CONFIG, journal, outbox, dispenser, board, Cap(journal, 4, 12))
    schedule = Schedule(directory, board, feeder, outbox)
    bootonly.call("restore", "load_schedule", schedule)
    return schedule, outbox


def cut_at(n, body):
    """Fire the slot with a cut at point n, reboot, run on: (points seen, results, dispense moves)."""
    directory = tmpdir()
    board = Board(n)
    real_write = smallfiles.SmallFiles.write

    def write(files, *args, **kwargs):
        board.point()
        real_write(files, *args, **kwargs)
        board.point()

    smallfiles.SmallFiles.write = write
    try:
        schedule, outbox = boot(directory, board)
        schedule.check(board.unix_time())  # the first trusted check: 00:59:50
        schedule.apply(body)
        board.now_ms += 10000
        board.armed = True
        cut = False
        try:
            schedule.check(board.unix_time())  # 01:00: the slot fires
        except PowerCut:
            cut = True
        board.armed = False
        if cut:
            schedule = outbox = None
            board.now_ms += 5000  # the board restarts
            schedule, outbox = boot(directory, board)
        board.now_ms += 60000
        schedule.check(board.unix_time())
        results = [json.loads(render("t", seq, packed)) for seq, packed in outbox.items()]
        return board.points, results, board.out_moves
    finally:
        smallfiles.SmallFiles.write = real_write
        remove_tree(directory)


def test_a_cut_at_every_point_of_a_firing_slot_never_feeds_twice_and_reports_once():
    _, body, _ = bootonly.call("schedule_doc", "desired", DOC, 0)
    n = 1
    statuses = []
    while True:
        points, results, moves = cut_at(n, body)
        assert [(r["id"], r["origin"]) for r in results] == [("sch-1-0-20261201-1", "schedule")], (n, results)
        status = results[0]["status"]
        assert moves <= 1, (n, moves)
        assert status == "interrupted" or (status == "dispensed" and moves == 1), (n, status, moves)
        if status not in statuses:
            statuses.append(status)
        if points < n:
            break  # the whole firing ran without reaching point n: every point was cut
        n += 1
    assert n == 13 and sorted(statuses) == ["dispensed", "interrupted"], (n, statuses)

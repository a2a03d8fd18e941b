"""Flash bytes, footprint and heap of the storage path on the MicroPython unix port.

    .venv/bin/micropython -X heapsize=64K bench/storage_mpy.py     (make bench runs it this way)

Each dispensed command costs what the feeder does: journal.prune(now), journal.begin,
journal.finish, outbox.put(result), outbox.ack(seq) once the broker acknowledged it. Ids are
realistic ("press-" + 14 hex digits = 20 characters), the stored result is 30 bytes (a dispensed
result from messages.pack_result is 27 for such an id). Bytes are counted where they are written
(records.bytes_written: appends, tail cuts and compaction rewrites), amortised over 1,000 commands
at two cadences with the journal's one-day horizon (the feeding cap counts from it): at the
largest cap (128 portions a day per bowl, both bowls: one every 338 s, 256 ids remembered) and at
the default cap (12 a day per bowl: one every 3600 s). Goal: <= 128 bytes per dispensed command.

It also compares the two ways to make an append durable without os.fsync (one handle kept open
and flushed, versus open/append/close per record): time and heap allocated per record. Then it
runs the same on LittleFS (MicroPython's VfsLfs2 on a 4 KB-block flash image in a host file, as
on the ESP32) and counts what reaches the flash chip: bytes programmed and blocks erased.
"""

import gc
import os
import sys
import time

import vfs

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/../firmware")
sys.path.insert(0, _here + "/../tests/firmware")

import records  # noqa: E402
from fwtest import remove_tree, tmpdir  # noqa: E402
from journal import Journal  # noqa: E402
from outbox import Outbox  # noqa: E402

COMMAND_LINE = ".venv/bin/micropython -X heapsize=64K bench/storage_mpy.py"
NOW = 1795730000
HORIZON = 86400  # app.py: the journal keeps a day (cap.DAY_S)
COMMANDS = 1000
LARGEST_CAP_STEP_S = 338  # 256 dispenses a day
GOAL = 128
RESULT = b"r" * 30
RECORDS = 200


class FlashImage:
    """A flash chip kept in a host file, for LittleFS: counts bytes programmed and blocks erased."""

    def __init__(self, path, block_size, count):
        self.block_size = block_size
        self.count = count
        erased = b"\xff" * 256
        with open(path, "wb") as f:
            for _ in range(block_size * count // 256):
                f.write(erased)
        self.file = open(path, "r+b")
        self.programmed = self.erased = 0

    def readblocks(self, block, buf, offset=0):
        self.file.seek(block * self.block_size + offset)
        self.file.readinto(buf)

    def writeblocks(self, block, buf, offset=0):
        self.file.seek(block * self.block_size + offset)
        self.file.write(buf)
        self.programmed += len(buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.count
        if op == 5:  # block size
            return self.block_size
        if op == 6:  # erase
            self.erased += 1
        return 0


def command_id(i):
    return "press-%014x" % (0x5EED00000000 + i * 7919)


def run(step_s, base="/tmp"):
    """Store COMMANDS dispensed commands step_s apart; return the figures main() prints."""
    directory = tmpdir(base)
    try:
        journal = Journal(directory, HORIZON)
        outbox = Outbox(directory, 64)
        gc.collect()
        baseline = live_peak = gc.mem_alloc()
        worst_allocation = 0
        written = records.bytes_written
        elapsed_us = 0
        for i in range(COMMANDS):
            now = NOW + i * step_s
            pressed = command_id(i)
            gc.collect()
            before = gc.mem_alloc()
            start = time.ticks_us()
            journal.prune(now)
            journal.begin(pressed, now, 1)
            seq = outbox.put(RESULT)
            journal.finish(pressed)
            outbox.ack(seq)
            elapsed_us += time.ticks_diff(time.ticks_us(), start)
            # Everything the command allocated, garbage included (a lower bound if the collector ran).
            worst_allocation = max(worst_allocation, gc.mem_alloc() - before)
            gc.collect()
            live_peak = max(live_peak, gc.mem_alloc())
        per_command = (records.bytes_written - written) / COMMANDS
        footprint = (os.stat(directory + "/journal.log")[6], os.stat(directory + "/outbox.log")[6])
        entries = journal.entries
        journal.close()
        outbox.close()
        return per_command, footprint, entries, live_peak - baseline, worst_allocation, elapsed_us // COMMANDS
    finally:
        remove_tree(directory)


def append_kept_handle(path, body):
    log = records.Log(path)
    log.load(lambda kind, b: None)
    for _ in range(RECORDS):
        log.append(1, body)
    log.close()


def append_reopening(path, body):
    # The alternative: a fresh handle per record, closed (and so committed) after the write.
    frame = bytearray(records.frame_size(len(body)))
    for _ in range(RECORDS):
        with open(path, "ab") as f:
            f.write(frame)
            f.flush()  # as durable as the kept handle's flush on this port (fsync); LittleFS commits on close


def per_record(append, body):
    """(us per record, bytes allocated per record) of RECORDS appends."""
    directory = tmpdir()
    try:
        gc.collect()
        gc.disable()  # count every allocation, none reclaimed meanwhile
        before = gc.mem_alloc()
        start = time.ticks_us()
        append(directory + "/r.log", body)
        elapsed_us = time.ticks_diff(time.ticks_us(), start)
        allocated = gc.mem_alloc() - before
        gc.enable()
        return elapsed_us // RECORDS, allocated // RECORDS
    finally:
        remove_tree(directory)


def main():
    print("command: " + COMMAND_LINE)
    worst = 0
    for step_s, label in ((LARGEST_CAP_STEP_S, "at the largest cap, one every 338 s"),
                          (3600, "at the default cap, one an hour")):
        per_command, (journal_size, outbox_size), entries, live, allocated, us = run(step_s)
        worst = max(worst, per_command)
        print("%s:" % label)
        print(
            "  %.1f bytes written per dispensed command over %d, compaction included"
            % (per_command, COMMANDS)
        )
        print(
            "  flash at the end: journal %d B (%d ids remembered), outbox %d B"
            % (journal_size, entries, outbox_size)
        )
        print(
            "  heap: peak growth of live data %d B over the opened journal+outbox; the most one command "
            "allocated (short-lived, a compaction) %d B; %d us/command" % (live, allocated, us)
        )
    print("goal <= %d bytes/command: %s" % (GOAL, "met" if worst <= GOAL else "NOT met"))
    body = b"x" * 32  # a BEGIN with a 20-character id
    kept_us, kept_bytes = per_record(append_kept_handle, body)
    reopen_us, reopen_bytes = per_record(append_reopening, body)
    print("append + durable on the host filesystem, per record:")
    print("  kept handle + flush: %d us, %d B allocated" % (kept_us, kept_bytes))
    print("  open/write/close:    %d us, %d B allocated" % (reopen_us, reopen_bytes))
    on_littlefs(body)


def on_littlefs(body):
    """The same on LittleFS (MicroPython's VfsLfs2 defaults, 4 KB blocks as on the ESP32): real flash wear."""
    image = "/tmp/bench-storage-%s.img" % "".join("%02x" % b for b in os.urandom(6))
    flash = FlashImage(image, 4096, 64)
    try:
        vfs.VfsLfs2.mkfs(flash)
        vfs.mount(vfs.VfsLfs2(flash), "/flash")
        programmed, erased = flash.programmed, flash.erased
        per_command = run(LARGEST_CAP_STEP_S, "/flash")[0]
        print("LittleFS, 4 KB blocks, one command every 338 s, per dispensed command:")
        print(
            "  %.1f B written by the firmware -> %d B programmed into flash, %.1f blocks erased"
            % (per_command, (flash.programmed - programmed) // COMMANDS, (flash.erased - erased) / COMMANDS)
        )
        for label, append in (
            ("kept handle + flush", append_kept_handle),
            ("open/write/close", append_reopening),
        ):
            directory = tmpdir("/flash")
            programmed, erased = flash.programmed, flash.erased
            append(directory + "/r.log", body)
            print(
                "  one %d-byte record, %s: %d B programmed, %.2f blocks erased"
                % (
                    records.frame_size(len(body)),
                    label,
                    (flash.programmed - programmed) // RECORDS,
                    (flash.erased - erased) / RECORDS,
                )
            )
            remove_tree(directory)
        vfs.umount("/flash")
    finally:
        flash.file.close()
        os.remove(image)


main()

"""Flash cost of the storage path, and the layouts it was chosen from, on the MicroPython unix port.

    MICROPYPATH=build/mpy-bench:.frozen:tools/stock_frozen:lib .venv/bin/micropython -X heapsize=64K \\
        bench/storage_mpy.py      (make bench runs it so, after tools/compile_firmware.sh build/mpy-bench)

Each dispensed command costs what the feeder does: journal.begin (before the servo moves: the hot
path), outbox.put(result), journal.finish, outbox.ack(seq) once the broker acknowledged it, and
journal.prune(now). Ids are realistic ("press-" + 16 hex digits = 22 characters, as press.py
makes them), the stored result is 30 bytes (a dispensed result from messages.pack_result is 29 for
such an id), over
1,000 commands at the journal's one-day horizon: at the largest cap (128 portions a day per bowl,
both bowls: one every 338 s, 256 ids remembered) and at the default cap (12 a day per bowl).

1. The firmware's layout (smallfiles.py) on the host filesystem: bytes written, footprint, heap.
2. Candidate layouts on LittleFS (MicroPython's VfsLfs2 on a 4 KB-block flash image in a host
   file, as on the ESP32), counting what reaches the chip: bytes programmed, blocks erased, and
   erases inside journal.begin, which sit between the command and the servo. A 4 KB sector erase
   takes about 45 ms typically and up to 400 ms on common SPI NOR, so those estimate the added
   time to dispense. The log layouts are modelled with records.Log (same record sizes and flushes,
   compaction left out, so their figures are lower bounds).
ESP32 NVS, the other candidate, is modelled in bench/storage_nvs.py.
"""

import gc
import os
import sys
import time

import vfs

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.append(_here + "/../firmware")  # source, when MICROPYPATH has no compiled firmware
sys.path.insert(0, _here + "/../tests/firmware")

import flashfs  # noqa: E402
import records  # noqa: E402
import smallfiles  # noqa: E402
from fwtest import remove_tree, tmpdir  # noqa: E402
from journal import Journal  # noqa: E402
from outbox import Outbox  # noqa: E402

COMMAND_LINE = ("MICROPYPATH=build/mpy-bench:.frozen:tools/stock_frozen:lib"
                " .venv/bin/micropython -X heapsize=64K bench/storage_mpy.py"
                " (make bench; tools/compile_firmware.sh build/mpy-bench compiles the firmware first)")
NOW = 1795730000
HORIZON = 86400  # app.py: the journal keeps a day (cap.DAY_S)
COMMANDS = 1000
LARGEST_CAP_STEP_S = 338  # 256 dispenses a day
DEFAULT_CAP_STEP_S = 3600  # 24 a day
RESULT = b"r" * 30
ERASE_TYPICAL_MS = 45
ERASE_MAX_MS = 400
GOAL_ERASES = 0.1
# Which commit fills a metadata block (begin's, before the servo, or another) depends on how much
# the block holds after its last compaction: the small-file layouts are run at these phases
# (add_ballast) and averaged, so a lucky or unlucky alignment does not decide the figures.
BALLAST_BYTES = (0, 17, 33, 49, 65, 81, 97, 113)


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
    return "press-%016x" % (0x5EED0000000000 + i * 7919)


class SmallFilesLayout:
    """The firmware's: journal.Journal and outbox.Outbox as they are, on the filesystem as boot.py
    leaves it (flashfs: no modification times)."""

    label = "small files, 16 journal dirs, no mtime"
    board_mount = True

    def __init__(self, directory):
        self.journal = Journal(directory, HORIZON)
        self.outbox = Outbox(directory, 64)

    def begin(self, pressed, now):
        self.journal.begin(pressed, now, 1)

    def close(self):
        pass  # every small-file write is closed when it returns

    def after(self, pressed, now):
        seq = self.outbox.put(RESULT)
        self.journal.finish(pressed)
        self.outbox.ack(seq)
        self.journal.prune(now)


class FlatSmallFilesLayout(SmallFilesLayout):
    """The same records with every journal file in one directory, on MicroPython's default mount
    (mtime=True): the firmware before the journal's directories and boot.py."""

    label = "small files, one journal dir, mtime"
    board_mount = False

    def __init__(self, directory):
        super().__init__(directory)
        flat = smallfiles.SmallFiles(directory + "/journal")  # empty yet: nothing to load
        flat.in_place = self.journal.files.in_place  # as restore.py found the mount at boot
        self.journal.files = flat


class LogsLayout:
    """The log-based firmware before it: journal.log and outbox.log, BEGIN, PUT, FINISH each flushed,
    the ACK riding on the next flush."""

    label = "two logs, 3 flushes (before)"
    board_mount = False
    BEGIN = b"x" * 25  # slot, began_at, 20-character id
    FINISH = b"s"

    def __init__(self, directory):
        self.journal = records.Log(directory + "/journal.log")
        self.journal.load(lambda kind, body: None)
        self.outbox = records.Log(directory + "/outbox.log")
        self.outbox.load(lambda kind, body: None)

    def begin(self, pressed, now):
        self.journal.append(0x10, self.BEGIN)

    def close(self):
        self.journal.close()
        self.outbox.close()

    def after(self, pressed, now):
        self.outbox.append(1, b"s", RESULT)
        self.journal.append(0x20, self.FINISH)
        self.outbox.append(3, b"seq!", durable=False)


class OneLogLayout(LogsLayout):
    """Journal and outbox in one log: BEGIN flushed, then PUT and FINISH under one flush."""

    label = "one log, 2 flushes"

    def __init__(self, directory):
        self.journal = self.outbox = records.Log(directory + "/store.log")
        self.journal.load(lambda kind, body: None)

    def after(self, pressed, now):
        self.journal.append(1, b"s", RESULT, durable=False)
        self.journal.append(0x20, self.FINISH)
        self.journal.append(3, b"seq!", durable=False)


def add_ballast(directory, layout_class, size):
    """A file of `size` bytes that is not the journal's (its name is not hex, so the journal ignores
    it) in each journal directory: it shifts where in the command cycle a metadata block fills up
    (the phase), without changing the work per command."""
    journal = directory + "/journal"
    for digit in "0123456789abcdef" if layout_class is SmallFilesLayout else "0":
        folder = journal + "/" + digit if layout_class is SmallFilesLayout else journal
        try:
            os.mkdir(folder)
        except OSError:
            pass
        with open(folder + "/" + digit + "-", "wb") as f:
            f.write(b"b" * size)


def on_littlefs(layout_class, step_s, ballast=0):
    """(programmed B, erases, erases in begin) per command, and how many commands had n erases in
    begin, by n (a histogram: a list per command would not fit the heap over every phase)."""
    cwd = os.getcwd()
    image = "/tmp/bench-storage-%s.img" % "".join("%02x" % b for b in os.urandom(6))
    flash = FlashImage(image, 4096, 64)
    gc.collect()
    try:
        vfs.VfsLfs2.mkfs(flash)
        vfs.mount(vfs.VfsLfs2(flash), "/flash")  # as MicroPython mounts the board's flash
        if layout_class.board_mount:
            flashfs.remount_without_mtime(flash, "/flash")  # as boot.py remounts it
            os.chdir(cwd)
        directory = tmpdir("/flash")
        layout = layout_class(directory)
        if ballast:
            add_ballast(directory, layout_class, ballast)
        programmed, erased = flash.programmed, flash.erased
        hot = [0] * 8  # commands by erases inside begin
        hot_total = 0
        for i in range(COMMANDS):
            now = NOW + i * step_s
            pressed = command_id(i)
            before = flash.erased
            layout.begin(pressed, now)
            hot[min(flash.erased - before, 7)] += 1
            hot_total += flash.erased - before
            layout.after(pressed, now)
        figures = ((flash.programmed - programmed) / COMMANDS, (flash.erased - erased) / COMMANDS,
                   hot_total / COMMANDS)
        layout.close()
        del layout
        vfs.umount("/flash")
        return figures, hot
    finally:
        flash.file.close()
        os.remove(image)


def file_count_and_bytes(path):
    """Files under path (the journal's are in sub-directories) and their bytes."""
    files = footprint = 0
    for entry in os.ilistdir(path):
        if entry[1] == 0x4000:
            more_files, more_bytes = file_count_and_bytes(path + "/" + entry[0])
            files, footprint = files + more_files, footprint + more_bytes
        else:
            files, footprint = files + 1, footprint + os.stat(path + "/" + entry[0])[6]
    return files, footprint


def host_run(step_s):
    """The firmware's layout on the host filesystem: the figures main() prints."""
    directory = tmpdir()
    try:
        layout = SmallFilesLayout(directory)
        gc.collect()
        baseline = live_peak = gc.mem_alloc()
        worst_allocation = 0
        written = smallfiles.bytes_written
        elapsed_us = 0
        for i in range(COMMANDS):
            now = NOW + i * step_s
            pressed = command_id(i)
            gc.collect()
            before = gc.mem_alloc()
            start = time.ticks_us()
            layout.begin(pressed, now)
            layout.after(pressed, now)
            elapsed_us += time.ticks_diff(time.ticks_us(), start)
            worst_allocation = max(worst_allocation, gc.mem_alloc() - before)
            gc.collect()
            live_peak = max(live_peak, gc.mem_alloc())
        per_command = (smallfiles.bytes_written - written) / COMMANDS
        files, footprint = file_count_and_bytes(directory)
        entries = layout.journal.entries
        return (per_command, files, footprint, entries, live_peak - baseline, worst_allocation,
                elapsed_us // COMMANDS)
    finally:
        remove_tree(directory)


def percentile(histogram, share):
    """The share-th percentile of the values counted in histogram (histogram[v]: how many were v)."""
    rank = int(share * sum(histogram))
    for value, count in enumerate(histogram):
        rank -= count
        if rank < 0:
            return value
    return len(histogram) - 1


def main():
    print("command: " + COMMAND_LINE)
    for step_s, label in ((LARGEST_CAP_STEP_S, "at the largest cap, one every 338 s"),
                          (DEFAULT_CAP_STEP_S, "at the default cap, one an hour")):
        per_command, files, footprint, entries, live, allocated, us = host_run(step_s)
        print("%s, this firmware on the host filesystem:" % label)
        print("  %.1f bytes written per dispensed command over %d" % (per_command, COMMANDS))
        print("  flash at the end: %d files, %d B (%d ids remembered)" % (files, footprint, entries))
        print("  heap: peak growth of live data %d B; the most one command allocated %d B; %d us/command"
              % (live, allocated, us))
    worst = []
    for step_s, cadence in ((LARGEST_CAP_STEP_S, "one command every 338 s"),
                            (DEFAULT_CAP_STEP_S, "one command an hour")):
        print("LittleFS, 4 KB blocks, %s, per dispensed command:" % cadence)
        print("  %-38s %10s %8s %16s %24s" % ("layout", "programmed", "erases", "erases in begin",
                                               "added before the servo"))
        for layout_class in (LogsLayout, OneLogLayout, FlatSmallFilesLayout, SmallFilesLayout):
            phases = BALLAST_BYTES if layout_class in (FlatSmallFilesLayout, SmallFilesLayout) else (0,)
            programmed = erases = hot_mean = 0
            hot = [0] * 8
            for ballast in phases:
                (phase_programmed, phase_erases, phase_hot_mean), phase_hot = on_littlefs(
                    layout_class, step_s, ballast)
                programmed += phase_programmed / len(phases)
                erases += phase_erases / len(phases)
                hot_mean += phase_hot_mean / len(phases)
                for erases_in_begin, commands in enumerate(phase_hot):
                    hot[erases_in_begin] += commands
            if layout_class is SmallFilesLayout:
                worst.append("%.3f %s" % (erases, cadence))
            print("  %-38s %8d B %8.3f %16.3f   p50 %3d ms, p99 %3d ms, max %d ms"
                  % (layout_class.label, programmed, erases, hot_mean,
                     percentile(hot, 0.5) * ERASE_TYPICAL_MS, percentile(hot, 0.99) * ERASE_TYPICAL_MS,
                     max(v for v in range(8) if hot[v] or not v) * ERASE_MAX_MS))
    print("  (added: erases inside journal.begin x %d ms typical; max: x %d ms, the datasheet worst case)"
          % (ERASE_TYPICAL_MS, ERASE_MAX_MS))
    for figure in worst:
        erases = float(figure.split()[0])
        print("goal <= %.1f erases per dispensed command, %s: %s"
              % (GOAL_ERASES, figure, "met" if erases <= GOAL_ERASES else "NOT met"))


main()

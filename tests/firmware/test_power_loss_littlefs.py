"""Power cuts on LittleFS itself (MicroPython's VfsLfs2, as on the ESP32): the flash stops taking
writes at every program and erase of an operation in turn, then the image is mounted again and
booted. What the board's filesystem guarantees, tested on its own code rather than assumed:
a record rewritten in place (smallfiles.py) is there whole or not at all.

LittleFS is MicroPython's only; under CPython these tests are skipped. MicroPython prints the
errors of the files a cut left open as they are finalized ("OSError: 28"): expected, their writes
are dropped (DEAD) so that they cannot reach the next boot's image.
"""

from fwtest import skip_unless

try:
    import vfs
except ImportError:
    vfs = None

NOW = 1795730000
HORIZON = 3600
BLOCK = 4096
ERASED = b"\xff" * 256
DEAD = -2  # CutFlash.budget after the cut: writes are lost silently
MOUNT = "/lfs-cut"


class CutFlash:
    """A flash chip in a host file (the 64K heap cannot hold an image) whose power goes after
    `budget` more program or erase operations."""

    def __init__(self, path, blocks=16):
        self.path = path
        self.blocks = blocks
        self.budget = -1  # unlimited
        with open(path, "wb") as f:
            for _ in range(blocks * BLOCK // 256):
                f.write(ERASED)
        self.file = open(path, "r+b")

    def _spend(self):
        """True when the operation reaches the flash."""
        if self.budget == 0:
            raise OSError(5, "power cut")  # EIO: the operation in progress is abandoned
        if self.budget > 0:
            self.budget -= 1
        return self.budget != DEAD

    def readblocks(self, block, buf, offset=0):
        self.file.seek(block * BLOCK + offset)
        self.file.readinto(buf)

    def writeblocks(self, block, buf, offset=0):
        if self._spend():
            self.file.seek(block * BLOCK + offset)
            self.file.write(buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return BLOCK
        if op == 6:
            if self._spend():
                self.file.seek(arg * BLOCK)
                for _ in range(BLOCK // 256):
                    self.file.write(ERASED)
        return 0

    def copy(self, source, target):
        self.file.flush()
        buf = bytearray(256)
        with open(source, "rb") as src, open(target, "wb") as dst:
            while src.readinto(buf):
                dst.write(buf)
        if target == self.path:
            self.file.close()
            self.file = open(self.path, "r+b")


def mount(flash):
    vfs.mount(vfs.VfsLfs2(flash), MOUNT)


def unmount():
    try:
        vfs.umount(MOUNT)
    except OSError:
        pass


def every_cut(prepare, operation, check):
    """prepare(dir) on a fresh image; then for n = 0, 1, ...: the power goes after n flash operations
    of operation(dir, state); the image is mounted again and check(dir, completed) boots it."""
    import gc
    import os

    name = "/tmp/lfs-cut-" + "".join("%02x" % b for b in os.urandom(6))
    flash = CutFlash(name + ".img")
    vfs.VfsLfs2.mkfs(flash)
    mount(flash)
    directory = MOUNT + "/data"
    try:
        os.mkdir(directory)
        state = prepare(directory)
        unmount()
        flash.copy(flash.path, name + ".before")
        cut = 0
        while True:
            flash.copy(name + ".before", flash.path)
            mount(flash)
            state = prepare_again(prepare, directory, state)
            flash.budget = cut
            try:
                operation(state)
                completed = True
            except OSError:
                completed = False
            flash.budget = DEAD
            gc.collect()  # a file the cut left open is finalized now, while the flash takes no writes
            flash.budget = -1
            unmount()  # the cut mount is abandoned; the next one reads what reached the flash
            mount(flash)
            check(directory, completed)
            unmount()
            if completed:
                return cut  # the operation needed this many flash operations: every cut was tried
            cut += 1
    finally:
        flash.budget = -1
        unmount()
        flash.file.close()
        for path in (flash.path, name + ".before"):
            try:
                os.remove(path)
            except OSError:
                pass


def prepare_again(prepare, directory, state):
    return prepare(directory, reopen=True)


def test_journal_begin_and_finish_cut_at_every_flash_operation_on_littlefs():
    skip_unless(vfs is not None, "LittleFS is MicroPython's")
    from journal import Journal

    def prepare(directory, reopen=False):
        journal = Journal(directory, HORIZON)
        assert journal.files.in_place  # found on LittleFS at boot (restore.py): rewritten in place
        if not reopen:
            journal.begin("press-a", NOW, 1)
            journal.finish("press-a")
        return journal

    def begin_c(journal):
        journal.begin("press-c", NOW, 3)

    def check_begin(directory, completed):
        journal = Journal(directory, HORIZON)
        assert journal.seen("press-a") and journal.corrupt_records == 0
        assert journal.unfinished() == ([("press-c", 3)] if completed else [])

    assert every_cut(prepare, begin_c, check_begin) >= 1

    def prepare_begun(directory, reopen=False):
        journal = Journal(directory, HORIZON)
        if not reopen:
            journal.begin("press-c", NOW, 3)
        return journal

    def finish_c(journal):
        journal.finish("press-c")

    def check_finish(directory, completed):
        journal = Journal(directory, HORIZON)
        assert journal.seen("press-c") and journal.corrupt_records == 0
        assert journal.unfinished() == ([] if completed else [("press-c", 3)])

    assert every_cut(prepare_begun, finish_c, check_finish) >= 1


def test_outbox_put_and_ack_cut_at_every_flash_operation_on_littlefs():
    skip_unless(vfs is not None, "LittleFS is MicroPython's")
    from outbox import Outbox

    def prepare(directory, reopen=False):
        outbox = Outbox(directory, 8)
        assert outbox.files.in_place
        if not reopen:
            outbox.ack(outbox.put(b"message-0"))
            outbox.ack(outbox.put(b"message-1"))  # two free files: the next put rewrites one in place
        return outbox

    def put(outbox):
        outbox.put(b"message-2")

    def check_put(directory, completed):
        outbox = Outbox(directory, 8)
        assert outbox.corrupt_records == 0
        assert list(outbox.items()) == ([(3, b"message-2")] if completed else [])
        assert outbox.next_seq == (4 if completed else 3)

    assert every_cut(prepare, put, check_put) >= 1

    def prepare_waiting(directory, reopen=False):
        outbox = Outbox(directory, 8)
        if not reopen:
            outbox.put(b"message-0")
        return outbox

    def ack(outbox):
        outbox.ack(1)

    def check_ack(directory, completed):
        outbox = Outbox(directory, 8)
        assert list(outbox.items()) == ([] if completed else [(1, b"message-0")])
        assert outbox.next_seq == 2

    assert every_cut(prepare_waiting, ack, check_ack) >= 1

"""flashfs.remount_without_mtime, on MicroPython's LittleFS (VfsLfs2) in a flash image, as boot.py
runs it on the board. LittleFS is MicroPython's only; under CPython these tests are skipped."""

import os

from fwtest import raises, skip_unless
from test_power_loss_littlefs import CutFlash

try:
    import vfs
except ImportError:
    vfs = None

MOUNT = "/lfs-remount"


def mounted_at(point):
    return [fs for fs, at in vfs.mount() if at == point]


def with_littlefs(test):
    """Run test(flash) with a LittleFS image mounted at MOUNT as the board mounts it (mtime on)."""
    name = "/tmp/flashfs-" + "".join("%02x" % b for b in os.urandom(6)) + ".img"
    flash = CutFlash(name)
    cwd = os.getcwd()
    vfs.VfsLfs2.mkfs(flash)
    vfs.mount(vfs.VfsLfs2(flash), MOUNT)
    try:
        with open(MOUNT + "/before", "wb") as f:
            f.write(b"kept")
        test(flash)
    finally:
        os.chdir(cwd)
        if mounted_at(MOUNT):
            vfs.umount(MOUNT)
        flash.file.close()
        os.remove(name)


def test_remount_keeps_the_files_and_stops_storing_modification_times():
    skip_unless(vfs is not None, "LittleFS is MicroPython's")
    import flashfs

    def check(flash):
        assert os.stat(MOUNT + "/before")[8] != 0  # mtime=True, the default, stores it
        assert flashfs.remount_without_mtime(flash, MOUNT)
        assert os.getcwd() == MOUNT
        with open("before", "rb") as f:
            assert f.read() == b"kept"
        with open("after", "wb") as f:
            f.write(b"new")
        assert os.stat(MOUNT + "/after")[8] == 0 and os.stat(MOUNT + "/before")[8] != 0
        assert len(mounted_at(MOUNT)) == 1

    with_littlefs(check)


def test_a_filesystem_that_is_not_littlefs_is_left_alone():
    skip_unless(vfs is not None, "LittleFS is MicroPython's")
    import flashfs

    table = vfs.mount()
    assert not flashfs.remount_without_mtime(None, "/")  # the unix port's root: POSIX
    assert not flashfs.remount_without_mtime(None, "/no-such-mount")
    assert vfs.mount() == table


def test_a_failed_remount_puts_the_filesystem_back():
    skip_unless(vfs is not None, "LittleFS is MicroPython's")
    import flashfs

    def check(flash):
        blank = CutFlash(flash.path + ".blank")  # no LittleFS on it: the new mount fails
        try:
            raises(OSError, flashfs.remount_without_mtime, blank, MOUNT)
        finally:
            blank.file.close()
            os.remove(blank.path)
        with open(MOUNT + "/before", "rb") as f:
            assert f.read() == b"kept"

    with_littlefs(check)

"""flashfs.remount_without_mtime and boot.py on the board twin (tests/board_twin/): MicroPython's
LittleFS (VfsLfs2) in a flash image, behind the board's `vfs` of each release (twin_vfs.py: no mount
table before 1.25, the board's "/"), as boot.py runs it on the board."""

import os

import twin  # noqa: I001  (before any firmware module: the twin's stand-ins first on the path)
import vfs
from test_power_loss_littlefs import CutFlash

MOUNT = "/lfs-remount"


def mounted_at(point):
    return [fs for fs, at in vfs.mount() if at == point]


def with_littlefs(test, version, point=MOUNT):
    """Run test(flash, lines) on `version` with a LittleFS image mounted at point as the board mounts
    it (mtime on), the twin's vfs in place; lines collects what flashfs logs."""
    board_twin = twin.use(version)
    name = "/tmp/flashfs-" + "".join("%02x" % b for b in os.urandom(6)) + ".img"
    flash = CutFlash(name)
    board_twin.flash = flash
    host_point = board_twin.flash_at if point == "/" else point
    cwd = os.getcwd()
    vfs.VfsLfs2.mkfs(flash)
    vfs.mount(vfs.VfsLfs2(flash), host_point)
    try:
        with open(host_point + "/before", "wb") as f:
            f.write(b"kept")
        twin.with_board_vfs(test, flash, [])
    finally:
        os.chdir(cwd)
        if mounted_at(host_point):
            vfs.umount(host_point)
        flash.file.close()
        os.remove(name)


def remount(flash, lines):
    import flashfs

    return flashfs.remount_without_mtime(flash, MOUNT, lines.append)


def test_remount_keeps_the_files_and_stops_storing_modification_times():
    # Defect 3: flashfs listed the mounts with vfs.mount() and no arguments, which 1.24 lacks.
    def check(flash, lines):
        assert os.stat(MOUNT + "/before")[8] != 0  # mtime=True, the default, stores it
        assert remount(flash, lines)
        assert os.getcwd() == MOUNT and lines == []
        with open("before", "rb") as f:
            assert f.read() == b"kept"
        with open("after", "wb") as f:
            f.write(b"new")
        assert os.stat(MOUNT + "/after")[8] == 0 and os.stat(MOUNT + "/before")[8] != 0
        assert len(mounted_at(MOUNT)) == 1

    for version in twin.VERSIONS:
        with_littlefs(check, version)


def test_a_filesystem_that_is_not_littlefs_is_left_alone():
    def check(flash, lines):
        blank = CutFlash(flash.path + ".blank")  # no LittleFS on it: FAT or a format to come
        try:
            vfs.umount(MOUNT)
            vfs.mount(vfs.VfsPosix("/tmp"), MOUNT)
            assert not remount(blank, lines)
            assert type(mounted_at(MOUNT)[0]).__name__ == "VfsPosix"
            assert len(lines) == 1 and lines[0].startswith("flashfs: " + MOUNT + " left as mounted")
        finally:
            blank.file.close()
            os.remove(blank.path)

    for version in ((1, 24), (1, 26)):
        with_littlefs(check, version)


def test_a_failed_remount_never_raises_and_the_old_filesystem_is_back():
    # Defect 5: the remount's failure was re-raised after the old mount came back, so boot.py
    # failed and the ESP32 skipped main.py (ports/esp32/main.c runs main.py only after boot.py returns).
    import twin_vfs

    def check(flash, lines):
        twin_vfs.fail_mounts.append(OSError(12))  # ENOMEM: the new mount fails after the umount
        assert not remount(flash, lines)
        with open(MOUNT + "/before", "rb") as f:
            assert f.read() == b"kept"
        assert len(mounted_at(MOUNT)) == 1 and len(lines) == 1 and "OSError" in lines[0], lines

    for version in ((1, 24), (1, 26)):
        with_littlefs(check, version)


def boot_py(flash, lines):
    """boot.py as the ESP32 runs it after _boot.py mounted the flash at "/": imported as a module,
    with '' (the working directory, the flash root once boot.py is there) first on the path as on
    the board, and the test's own folders made absolute (boot.py changes the working directory).
    Returns sys.path as boot.py left it."""
    import sys

    saved = sys.path[:]
    here = os.getcwd()
    sys.path[:] = [""] + [entry if entry[:1] == "/" or entry == ".frozen" else here + "/" + entry
                          for entry in saved if entry]
    try:
        import boot  # noqa: F401

        return sys.path[:]
    finally:
        sys.path[:] = saved


def test_boot_py_remounts_the_board_flash_on_every_release_and_returns():
    board_twin = twin.board_twin

    def check(flash, lines):
        assert boot_py(flash, lines)  # returned: main.py runs next
        with open(board_twin.flash_at + "/after", "wb") as f:
            f.write(b"new")
        assert os.stat(board_twin.flash_at + "/after")[8] == 0  # remounted without modification times

    for version in ((1, 24), (1, 25), (1, 26)):
        with_littlefs(check, version, "/")


def test_boot_py_returns_when_the_remount_fails():
    import twin_vfs

    def check(flash, lines):
        twin_vfs.fail_mounts.append(OSError(5))
        assert boot_py(flash, lines)
        with open(twin.board_twin.flash_at + "/before", "rb") as f:
            assert f.read() == b"kept"

    for version in ((1, 26), (1, 24)):
        with_littlefs(check, version, "/")


def test_boot_py_without_an_update_keeps_the_flash_root_first_and_starts_no_watchdog():
    # With an update on trial, the path and the watchdog: tests/firmware/test_otaboot.py (the twin's
    # "/" is a host folder only for vfs, and boot.py's working directory is the host's "/").
    board_twin = twin.board_twin

    def check(flash, lines):
        assert boot_py(flash, lines)[0] == ""
        assert board_twin.watchdog is None

    with_littlefs(check, (1, 26), "/")

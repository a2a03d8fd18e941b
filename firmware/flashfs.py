"""The board's flash filesystem: LittleFS remounted without modification times.

MicroPython mounts the ESP32's LittleFS with `mtime=True`: every file written carries a 12-byte
modification-time attribute in its metadata commit. The firmware never reads it, and it is what
makes a small record's commit 64 bytes instead of 32 (LittleFS pads a commit to its 32-byte
program size), so a metadata block fills, and is erased for compaction, sooner.
bench/storage_mpy.py measures the difference on a LittleFS image.

boot.py calls remount_without_mtime before anything opens a file, through bootonly.call: the
module is not needed afterwards and leaves the heap. Existing files keep their
stored times; nothing else about the filesystem changes. Any other filesystem (FAT, from an old
format) is left as it is.

It never raises: an exception in boot.py makes the ESP32 skip main.py (ports/esp32/main.c runs
main.py only when boot.py returned), which would leave the gates unparked and no watchdog. A
failure is logged in one line and the filesystem stays (or is put back) as it was mounted.

It works without the mount table: vfs.mount() with no arguments lists it only from MicroPython
1.25 (extmod/vfs.c). The new LittleFS object is made first, on the partition's block device
(VfsLfs2() mounts LittleFS, reading only, while the old object is still mounted and idle); a
partition that holds no LittleFS fails there, before anything is unmounted. If mounting it then
fails, the partition is mounted again as _boot.py mounts it (vfs.mount(bdev, "/"): the filesystem
found on it, with its defaults).
"""

import os

import vfs


def remount_without_mtime(bdev, mount_point, log=print):
    """Remount mount_point's LittleFS on bdev with mtime=False. True when it was remounted; False,
    after one line to log, when it was left or put back as it was mounted."""
    try:
        remounted = vfs.VfsLfs2(bdev, mtime=False)  # type: ignore[abstract]  # the stubs make it abstract
    except Exception as exc:  # OSError: not LittleFS; anything else: still nothing changed
        log("flashfs: %s left as mounted (no LittleFS to remount: %r)" % (mount_point, exc))
        return False
    remounted_now = True
    try:
        vfs.umount(mount_point)
        vfs.mount(remounted, mount_point)
    except Exception as exc:
        remounted_now = False
        try:
            vfs.mount(bdev, mount_point)
        except OSError:
            pass  # still (or already) mounted: as it was
        log("flashfs: %s mounted as before (remount failed: %r)" % (mount_point, exc))
    try:
        os.chdir(mount_point)  # the working directory was the unmounted filesystem
    except OSError:
        pass
    return remounted_now

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
"""

import os

import vfs


def remount_without_mtime(bdev, mount_point):
    """Remount mount_point's LittleFS on bdev with mtime=False. True when it was remounted."""
    mounted = None
    for fs, point in vfs.mount():  # no arguments: the mount table
        if point == mount_point:
            mounted = fs
    if type(mounted).__name__ != "VfsLfs2":
        return False
    vfs.umount(mount_point)
    try:
        vfs.mount(vfs.VfsLfs2(bdev, mtime=False), mount_point)  # type: ignore[abstract]  # the stubs make it abstract
    except Exception:
        vfs.mount(mounted, mount_point)  # as it was: the device must still boot
        raise
    os.chdir(mount_point)  # the working directory was the unmounted filesystem
    return True

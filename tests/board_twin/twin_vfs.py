"""Stand-in for the board's `vfs` (extmod/vfs.c), for the board twin (board_twin.py). The unix port's
vfs is built in and cannot be shadowed by a file, so a test installs this one as sys.modules["vfs"]
(tests/firmware/twin.py) before it imports the module under test.

It delegates to the unix port's own vfs (the same C code) and adds two things of the board:
- mount() with no arguments lists the mount table only from 1.25 (commit 1487a13079, "Return mount
  table from no-args vfs.mount call"); in 1.24 mp_vfs_mount takes at least 2 positional arguments,
  so the call raises TypeError;
- the board's "/" is the host folder board_twin.flash_at (the unix port's own root stays mounted,
  out of the board's table);
  `fail_mounts` makes the next mounts raise, as a failing flash or a full heap would.
"""

import board_twin
import vfs as real  # the unix port's: imported before a test puts this module in its place

VfsLfs2 = real.VfsLfs2
VfsPosix = real.VfsPosix
fail_mounts = []


def _host(point):
    return board_twin.flash_at if point == "/" else point


def _board(point):
    return "/" if point == board_twin.flash_at else point


def mount(*args, **options):
    if not args:
        if board_twin.version < (1, 25):
            raise TypeError("function missing 2 required positional arguments")
        # The board's table: the unix port's own root is not the board's, so it is left out.
        return [(fs, _board(point)) for fs, point in real.mount() if point != "/"]
    if fail_mounts:
        raise fail_mounts.pop(0)
    return real.mount(args[0], _host(args[1]), **options)


def umount(point):
    return real.umount(_host(point) if isinstance(point, str) else point)

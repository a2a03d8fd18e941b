"""Board boot: MicroPython runs /boot.py after mounting the flash filesystem, before /main.py.

Remounts the filesystem without modification times (flashfs.py says why). Source, not .mpy,
like main.py: MicroPython runs these two by name.
"""

import bootonly
from flashbdev import bdev  # the ESP32 port's frozen module: the filesystem's partition

bootonly.call("flashfs", "remount_without_mtime", bdev, "/")  # flashfs then leaves the heap

"""Board boot: MicroPython runs /boot.py after mounting the flash filesystem, before /main.py.

Remounts the filesystem without modification times (flashfs.py says why), then chooses the
firmware set main.py imports: the base set at the root or a verified update (otaboot.py; a trial
boot starts the watchdog here). Source, not .mpy, like main.py: MicroPython runs these two by name.
Neither call raises: a boot.py that raised would make the ESP32 skip main.py.
"""

import sys

import bootonly
import machine
from flashbdev import bdev  # the ESP32 port's frozen module: the filesystem's partition

bootonly.call("flashfs", "remount_without_mtime", bdev, "/")  # flashfs then leaves the heap
bootonly.call("otaboot", "select", ".", sys.path, machine.WDT)  # and so does otaboot

"""Stand-in for the ESP32 port's frozen flashbdev (ports/esp32/modules/flashbdev.py, 1.24-master):
`bdev`, the block device of the "vfs" partition; here board_twin.flash (a flash image a test made)."""

import board_twin

bdev = board_twin.flash

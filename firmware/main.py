"""Board entry point (MicroPython runs /main.py after boot): the board HAL and the shared boot.

Wi-Fi (timeout and retry), NTP before TLS, the watchdog and the main loop are in app.boot.
"""

import app
from hal_board import HAL

app.boot(HAL, "config.json", HAL.PINS)

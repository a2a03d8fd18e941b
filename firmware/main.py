"""Board entry point (MicroPython runs /main.py after boot): the board HAL and the shared boot.

Wi-Fi (timeout and retry), NTP before TLS and the watchdog are in startup.py (run once by
app.boot, then released); the main loop is app.App.
"""

import app
from hal_board import HAL

app.boot(HAL, "config.json", HAL.PINS)

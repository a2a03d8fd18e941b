"""Joining Wi-Fi and setting the clock by NTP on the XIAO ESP32C3: hal_board.HAL.NETWORK. Boot only:
startup.py imports it and it is released with startup (bootonly.py).

- Wi-Fi: network.WLAN station with an overall timeout; a definitive failure (wrong password,
  no AP) is retried after a pause until the timeout, because routers reboot too.
- Time: ntptime sets the RTC. TLS checks certificate dates, so sync before connecting.
"""

import time

import network
import ntptime

WIFI_POLL_MS = 200
WIFI_RETRY_PAUSE_MS = 1000
NTP_ATTEMPTS = 3
# Failures worth a fresh connect() rather than waiting on.
WIFI_FAILED = (network.STAT_WRONG_PASSWORD, network.STAT_NO_AP_FOUND, network.STAT_CONNECT_FAIL)


def _start_connect(wlan, ssid, password):
    try:
        wlan.connect(ssid, password)
    except OSError:
        pass  # "internal state error" while the driver is still busy: the polling loop waits it out


def wifi_connect(hal, ssid, password, timeout_s):
    """Join the network; True once connected, False when timeout_s passes first. Feeds hal's watchdog."""
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if wlan.isconnected():
        return True
    start = time.ticks_ms()
    _start_connect(wlan, ssid, password)
    while time.ticks_diff(time.ticks_ms(), start) < timeout_s * 1000:
        if wlan.isconnected():
            return True
        hal.watchdog_feed()
        if wlan.status() in WIFI_FAILED:
            wlan.disconnect()
            time.sleep_ms(WIFI_RETRY_PAUSE_MS)
            _start_connect(wlan, ssid, password)
        else:
            time.sleep_ms(WIFI_POLL_MS)
    wlan.disconnect()  # stop the driver retrying in the background; the caller decides when to try again
    return False


def time_sync(hal):
    """Set the RTC from NTP; True on success. Feeds hal's watchdog."""
    for _ in range(NTP_ATTEMPTS):
        hal.watchdog_feed()
        try:
            ntptime.settime()
            return True
        except (OSError, OverflowError):  # timeout / no route; a garbled reply
            time.sleep_ms(WIFI_RETRY_PAUSE_MS)
    return False

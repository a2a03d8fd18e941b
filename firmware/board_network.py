"""Joining Wi-Fi and setting the clock by NTP on the XIAO ESP32C3: hal_board.HAL.NETWORK. Boot only:
startup.py imports it and it is released with startup (bootonly.py). Time is the HAL's clock.

- Wi-Fi (ports/esp32/network_wlan.c, 1.24-master): connect() once, then wait for isconnected()
  until the timeout, feeding the watchdog. The driver retries by itself: while a connect is
  requested, its event handler calls esp_wifi_connect() again after every failed attempt, so an
  access point that comes back (a router rebooting) is joined without help. status() is only
  reported, never acted on: the driver keeps the last disconnect reason (wrong password, no AP)
  until an attempt succeeds, so while a new attempt runs it still describes the previous one.
  After a timeout, disconnect() stops the driver's retries; startup.py pauses and calls again.
- Time (micropython-lib's ntptime, frozen into the ESP32 images): settime() asks once, with a 1 s
  socket timeout; a lost reply or a failed lookup raises OSError, and a reply shorter than 44 bytes
  ValueError (ntptime reads it with struct.unpack, unchecked). Each is retried, and a sync that
  fails is logged in one line. TLS checks certificate dates, so the clock is set before connecting.
"""

import network
import ntptime

WIFI_POLL_MS = 200
NTP_ATTEMPTS = 3
NTP_RETRY_PAUSE_MS = 1000
# The driver's reasons worth naming in the log (network_wlan.c's status(): the STAT_ constants).
WIFI_REASONS = {network.STAT_WRONG_PASSWORD: "wrong password", network.STAT_NO_AP_FOUND: "no access point"}


def wifi_connect(hal, ssid, password, timeout_s, log):
    """Join the network; True once connected, False (logged) when timeout_s passes first."""
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if wlan.isconnected():
        return True
    requested = False
    start = hal.ticks_ms()
    while hal.ticks_diff(hal.ticks_ms(), start) < timeout_s * 1000:
        hal.watchdog_feed()
        if not requested:
            try:
                wlan.connect(ssid, password)
                requested = True
            except OSError:
                pass  # the driver is still busy with the last disconnect: asked again at the next poll
        if wlan.isconnected():
            return True
        hal.sleep_ms(WIFI_POLL_MS)
    status = wlan.status()
    wlan.disconnect()  # no retries in the background; the caller decides when to try again
    log("wifi: not joined within %d s (status %d %s)" % (timeout_s, status, WIFI_REASONS.get(status, "")))
    return False


def time_sync(hal, log):
    """Set the RTC from NTP; True on success, False (logged) after NTP_ATTEMPTS. Feeds the watchdog."""
    error = None
    for _ in range(NTP_ATTEMPTS):
        hal.watchdog_feed()
        try:
            ntptime.settime()
            return True
        except (OSError, ValueError, OverflowError) as exc:  # no reply or route; short; garbled
            error = exc
            hal.sleep_ms(NTP_RETRY_PAUSE_MS)
    log("ntp: no time after %d attempts (%r)" % (NTP_ATTEMPTS, error))
    return False

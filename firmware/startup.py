"""The device from power-on to the main loop, run once at boot and then released (bootonly.py):
config, gates to rest, watchdog, Wi-Fi, clock. app.boot calls prepare() and then runs the App.

Order matters: the config first (the servo pins and calibration come from it); then every gate is
driven to rest before anything else, because a crash or power cut mid-dispense may have left one
open and food keeps falling until it closes; then the watchdog; Wi-Fi (when configured) and the
clock (the HAL's NETWORK module: board_network.py on the board) before TLS, which checks
certificate dates (the journal's expiry needs the real time too).
"""

import bootonly
from servo import Dispenser, Servo

# Longer than the slowest blocking step: one connect attempt is a DNS lookup and up to five socket
# operations of mqtt.timeout_ms (at most 6 s: config.MAX_TIMEOUT_MS) each, and a dispense can dwell
# up to 10 s. machine.WDT cannot be stopped and outlives a soft reset (ports/esp32/machine_wdt.c,
# main.c): after mpremote interrupts the firmware, the board resets about a minute later.
WATCHDOG_MS = 60000
WIFI_RETRY_PAUSE_MS = 2000
NTP_RETRY_PAUSE_MS = 2000


def servo_from_config(hal, servo_config):
    c = servo_config
    return Servo(hal, c["pin"], c["min_us"], c["max_us"], c["rest_deg"], c["dispense_deg"], c["dwell_ms"])


def dispenser_from_config(hal, servos_config):
    """The Dispenser for config `servos`: each servo with its own pin and calibration."""
    left = servo_from_config(hal, servos_config["left"])
    return Dispenser(hal, left, servo_from_config(hal, servos_config["right"]))


def prepare(hal_factory, config_path, pins, servo_hal, log):
    """(config, hal, dispenser), with the gates at rest, the watchdog started, Wi-Fi joined (when
    configured) and the clock set by the module the HAL names as NETWORK (none on the unix port,
    whose host has both). pins: the HAL's PINS, for the config's pin numbers. servo_hal: the HAL
    the servos use (None: the board's). dispenser is None on a button board."""
    import config  # here, not at the top: the tests build dispensers without config's 5 KB

    loaded = config.load(config_path, pins)
    hal = hal_factory(loaded["led_pin"])
    dispenser = None
    if loaded["servos"] is not None:
        dispenser = dispenser_from_config(servo_hal or hal, loaded["servos"])
        dispenser.park()
        log("app: gates at rest")
    hal.watchdog_start(WATCHDOG_MS)
    hal.led("connecting")
    if hal.NETWORK is not None:  # the HAL's boot-only module: released with this one
        network = __import__(hal.NETWORK)
        wifi = loaded.get("wifi")
        trial = bootonly.call("otaboot", "on_trial", ".")  # an update on trial: it must get online in time
        started = hal.ticks_ms()
        if wifi is not None:
            while not network.wifi_connect(hal, wifi["ssid"], wifi["password"], wifi["timeout_s"], log):
                hal.watchdog_feed()
                end_a_trial_still_offline(hal, started, trial, loaded["ota"]["trial_s"], log)
                hal.sleep_ms(WIFI_RETRY_PAUSE_MS)
        while not network.time_sync(hal, log):
            hal.watchdog_feed()
            end_a_trial_still_offline(hal, started, trial, loaded["ota"]["trial_s"], log)
            hal.sleep_ms(NTP_RETRY_PAUSE_MS)
        hal.clock_synced()  # the schedule runs only on a clock NTP set since boot
    return loaded, hal, dispenser


def end_a_trial_still_offline(hal, started, trial, trial_s, log):
    """An update on trial (otaboot.py) whose boot has not joined Wi-Fi and set the clock within ota.trial_s
    restarts, as the main loop's trial that cannot connect does (app.py): SystemExit ends main.py, the ESP32
    soft-resets and boot.py counts the boot (and rolls back after the last). Without it a release that
    never gets online (its Wi-Fi or NTP code broken) would retry here for good, the watchdog fed, never
    rolled back and never feeding. The base set and a confirmed one retry as long as it takes."""
    if trial is not None and hal.ticks_diff(hal.ticks_ms(), started) >= trial_s * 1000:
        log("ota: %s not online within %d s: restarting" % (trial, trial_s))
        raise SystemExit

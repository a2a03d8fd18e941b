"""startup.py: the boot before the main loop (config, gates to rest, watchdog, Wi-Fi, clock), run
through bootonly.call as app.boot runs it, and gone from sys.modules (so from the heap) afterwards."""

import os
import sys

import bootonly
import hal_sim
import servo  # noqa: F401  (app.py imports it before the boot, so it stays loaded)
from fwtest import raises, remove_tree, tmpdir
from servo import LEFT, RIGHT

EXAMPLE = __file__.rsplit("/", 1)[0] + "/../../firmware/config.example.json"
if not EXAMPLE.startswith("/"):  # absolute: the trial tests run in the flash root they make
    EXAMPLE = os.getcwd() + "/" + EXAMPLE
TRIAL_S = 600  # config.example.json's ota.trial_s (config.py's default)
LEFT_PIN = 3  # config.example.json's servos
RIGHT_PIN = 4


class FlakyNetworkHAL(hal_sim.HAL):
    """A sim HAL with a network to join, whose Wi-Fi and NTP fail a given number of times first (as a
    router rebooting would). Its NETWORK module is this test module: wifi_connect and time_sync below."""

    NETWORK = __name__.rsplit(".", 1)[-1]  # pytest may name it tests.firmware.test_startup

    def __init__(self, wifi_failures, ntp_failures):
        super().__init__()
        self.wifi_failures = wifi_failures
        self.ntp_failures = ntp_failures
        self.joined = None


def wifi_connect(hal, ssid, password, timeout_s, log):
    if hal.wifi_failures:
        hal.wifi_failures -= 1
        return False
    hal.joined = (ssid, password, timeout_s)
    return True


def time_sync(hal, log):
    if hal.ntp_failures:
        hal.ntp_failures -= 1
        return False
    return True


def prepare(hal):
    lines = []
    for name in ("startup", "config"):
        sys.modules.pop(name, None)  # another test file may have imported them in this process
    log = lambda *words: lines.append(" ".join(words))  # noqa: E731
    factory = lambda led_pin: hal  # noqa: E731
    loaded, got_hal, dispenser = bootonly.call("startup", "prepare", factory, EXAMPLE, hal.PINS, None, log)
    assert got_hal is hal
    return loaded, dispenser, lines


def test_boot_parks_the_gates_then_starts_the_watchdog_and_joins_wifi_and_is_released():
    hal = FlakyNetworkHAL(0, 0)
    loaded, dispenser, lines = prepare(hal)
    assert loaded["thing"] == "cat-feeder" and loaded["servos"]["left"]["pin"] == LEFT_PIN
    # Each gate driven to rest and detached, left then right, before the watchdog and the network.
    assert [(pin, duty) for _t, pin, duty in hal.pwm_writes] == [
        (LEFT_PIN, 500000), (LEFT_PIN, 0), (RIGHT_PIN, 500000), (RIGHT_PIN, 0)]  # fmt: skip
    assert lines == ["app: gates at rest"]
    assert hal.watchdog_timeout_ms == 60000
    assert hal.led_state == "connecting"
    assert hal.joined == ("your-ssid", "set-on-the-board-only", 20)
    for boot_only in ("startup", "config"):
        assert boot_only not in sys.modules, boot_only
    assert "servo" in sys.modules  # imported before the boot (app.py), so it stays


def test_wifi_and_ntp_are_retried_with_the_watchdog_fed_until_they_succeed():
    hal = FlakyNetworkHAL(3, 2)
    prepare(hal)
    assert hal.joined is not None and hal.wifi_failures == 0 and hal.ntp_failures == 0
    assert hal.watchdog_feeds >= 5  # one per failed attempt at least: a long outage never resets the board


def test_the_unix_port_has_no_network_to_join():
    hal = hal_sim.HAL()
    assert hal.NETWORK is None
    loaded, dispenser, lines = prepare(hal)
    assert loaded["wifi"]["ssid"] == "your-ssid"  # configured, and nothing to do with it here
    assert lines == ["app: gates at rest"] and hal.watchdog_timeout_ms == 60000


def test_dispenser_from_config_uses_each_servo_calibration():
    import startup

    hal = hal_sim.HAL()
    servos = {
        "left": {"pin": 5, "min_us": 400, "max_us": 2600, "rest_deg": 0, "dispense_deg": 180, "dwell_ms": 0},
        "right": {"pin": 6, "min_us": 900, "max_us": 2000, "rest_deg": 180, "dispense_deg": 0, "dwell_ms": 9},
    }
    dispenser = startup.dispenser_from_config(hal, servos)
    dispenser.dispense(LEFT | RIGHT)
    assert [(pin, duty) for _t, pin, duty in hal.pwm_writes] == [
        (5, 2600000), (5, 0), (5, 400000), (5, 0),
        (6, 900000), (6, 0), (6, 2000000), (6, 0),
    ]  # fmt: skip


BOOT_MODULES = ("startup", "config", "otaboot")  # what a boot imports, so a trial test loads first


def on_trial(test):
    """Run test(hal maker) in a flash root whose state is a trial's first boot of slot a (otaboot.py),
    the working directory, as on the board."""
    root = tmpdir()
    cwd = os.getcwd()
    for name in BOOT_MODULES:  # before the chdir: MicroPython's path may be relative to the checkout
        sys.modules.pop(name, None)
        __import__(name)
    try:
        os.mkdir(root + "/ota")
        os.mkdir(root + "/ota/a")
        for name, text in (("ota/a/manifest.txt", "cat-feeder release 1\n"), ("ota/state", "- a 1 -\n")):
            with open(root + "/" + name, "w") as f:
                f.write(text)
        os.chdir(root)
        test()
    finally:
        os.chdir(cwd)
        remove_tree(root)
        for name in BOOT_MODULES:
            sys.modules.pop(name, None)


def offline_for_good(wifi):
    """A trial boot that never joins Wi-Fi (wifi) or never sets its clock: SystemExit once ota.trial_s of
    the HAL's simulated clock passed, logged; the watchdog fed meanwhile."""
    hal = FlakyNetworkHAL(10**6 if wifi else 0, 0 if wifi else 10**6)
    lines = []
    log = lambda *words: lines.append(" ".join(words))  # noqa: E731
    raises(SystemExit, bootonly.call, "startup", "prepare", lambda led_pin: hal, EXAMPLE, hal.PINS, None, log)
    assert lines == ["app: gates at rest", "ota: a not online within %d s: restarting" % TRIAL_S]
    elapsed_s = hal.ticks_ms() // 1000
    assert TRIAL_S <= elapsed_s < TRIAL_S + 3  # one retry pause (2 s) past the bound at most
    assert hal.watchdog_feeds >= TRIAL_S // 2
    assert (hal.joined is None) == wifi  # the step it was stuck in


def test_a_trial_that_cannot_join_wifi_restarts_after_trial_s_so_the_selector_counts_its_boots():
    on_trial(lambda: offline_for_good(wifi=True))


def test_a_trial_that_cannot_set_its_clock_restarts_after_trial_s():
    on_trial(lambda: offline_for_good(wifi=False))


def test_without_a_trial_wifi_is_retried_past_trial_s_until_it_joins():
    hal = FlakyNetworkHAL(TRIAL_S, 0)  # a 2 s pause each: 20 minutes without Wi-Fi
    prepare(hal)
    assert hal.joined is not None and hal.ticks_ms() // 1000 >= 2 * TRIAL_S

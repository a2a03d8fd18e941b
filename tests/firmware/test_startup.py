"""startup.py: the boot before the main loop (config, gates to rest, watchdog, Wi-Fi, clock), run
through bootonly.call as app.boot runs it, and gone from sys.modules (so from the heap) afterwards."""

import sys

import bootonly
import hal_sim
import servo  # noqa: F401  (app.py imports it before the boot, so it stays loaded)
from servo import LEFT, RIGHT

EXAMPLE = __file__.rsplit("/", 1)[0] + "/../../firmware/config.example.json"
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

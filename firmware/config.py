"""Load and validate the device configuration (config.json).

`load(path)` returns the configuration as a plain dict with every optional field filled in
with its default; any problem raises ConfigError naming the field path and the expected
form, e.g. "servos.left.min_us: expected int 400..2600". Fields this module does not know
are passed through untouched, so another module can read its own extras.

Required: `thing`, `mqtt.host`, `mqtt.ca`, `mqtt.cert`, `mqtt.key`, and by `role` (default
`feeder`): `servos.left.pin`, `servos.right.pin` on a feeder, `button.pin` on a `button` board.
`wifi` is optional as a whole (the unix port has no radio); so is a feeder's `button`. See
firmware/README.md for the table of fields, ranges and defaults.
"""

import json

REQUIRED = object()  # sentinel default: the field must be present

# The thing name goes into MQTT topics and JSON; keep it to a topic- and JSON-safe set.
NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
HEX_CHARS = "0123456789abcdef"


# The journal's horizon (a day) less expiry.FUTURE_SKEW_S, and its 256 slots shared by two bowls:
# the proof in journal.py; tests/firmware/test_limits.py fails when one changes without the other.
MAX_TTL_S = 86280
MAX_PORTIONS_PER_DAY = 128
# A bowl's caps when the config names none (cloud/household.py takes the same defaults).
DEFAULT_PORTIONS_PER_DAY = 12
DEFAULT_PORTIONS_PER_HOUR = 4


# feeder: servos, and optionally its own button; button: a remote button board, no servos.
ROLES = ("feeder", "button")

# The bound on each socket operation. A connect attempt is a DNS lookup and up to five socket
# operations (TCP connect, TLS handshake, CONNECT/CONNACK, SUBSCRIBE/SUBACK) between two watchdog
# feeds of the main loop: 5 x 6 s leaves half the 60 s watchdog (startup.WATCHDOG_MS) to the lookup,
# which the socket timeout does not bound (ESP-IDF's lwIP bounds it by its own retries).
MAX_TIMEOUT_MS = 6000
# Why a GPIO of the ESP32-C3 is not among the HAL's PINS (ports/esp32/machine_pin.h, the C3's table).
PINS_NOTE = " (GPIO11-17 serve the flash, 18-19 the USB port)"


def shadow_topic(thing):
    """The prefix of the thing's named shadow `schedule` (docs/protocol.md, "Schedule shadow"): AWS IoT's
    reserved topics, which the hub serves too."""
    return "$aws/things/%s/shadow/name/schedule" % thing


class ConfigError(ValueError):
    pass


def _join(path, key):
    return path + "." + key if path else key


def _section(parent, key, path, required=True):
    """The sub-object parent[key] (created empty when optional and absent), validated as an object."""
    where = _join(path, key)
    value = parent.get(key)
    if value is None:
        if required:
            raise ConfigError(where + ": missing, expected an object")
        value = {}
        parent[key] = value
    if type(value) is not dict:
        raise ConfigError(where + ": expected an object")
    return value


def _present(obj, key, path, expected, default):
    """obj[key]; None after filling in the default when absent; a missing required field is an error."""
    value = obj.get(key)
    if value is None:
        if default is REQUIRED:
            raise ConfigError(_join(path, key) + ": missing, " + expected)
        obj[key] = default
    return value


def _int(obj, key, path, low, high, default=REQUIRED):
    """Validate obj[key] as an int in low..high (bool is not an int here), filling the default."""
    expected = "expected int %d..%d" % (low, high)
    value = _present(obj, key, path, expected, default)
    if value is None:
        return default
    if type(value) is not int or not low <= value <= high:
        raise ConfigError(_join(path, key) + ": " + expected)
    return value


def _pin(obj, key, path, pins, default=REQUIRED):
    """Validate obj[key] as one of pins (the HAL's PINS: the GPIOs the board can drive)."""
    first = last = pins[0]
    spans = []
    for pin in pins[1:] + (-1,):
        if pin != last + 1:
            spans.append("%d-%d" % (first, last) if last > first else "%d" % first)
            first = pin
        last = pin
    expected = "expected a GPIO of " + ", ".join(spans) + PINS_NOTE
    value = _present(obj, key, path, expected, default)
    if value is None:
        return default
    if type(value) is not int or value not in pins:
        raise ConfigError(_join(path, key) + ": " + expected)
    return value


def _str(obj, key, path, min_len, max_len, default=REQUIRED, chars=None):
    expected = "expected string of %d..%d characters" % (min_len, max_len)
    if chars is not None:
        expected += " from [A-Za-z0-9_-]" if chars is NAME_CHARS else " of [0-9a-f]"
    value = _present(obj, key, path, expected, default)
    if value is None:
        return default
    ok = type(value) is str and min_len <= len(value) <= max_len
    if ok and chars is not None:
        for ch in value:
            if ch not in chars:
                ok = False
                break
    if not ok:
        raise ConfigError(_join(path, key) + ": " + expected)
    return value


def _servo(servos, side, pins):
    path = "servos." + side
    servo = _section(servos, side, "servos")
    _pin(servo, "pin", path, pins)
    min_us = _int(servo, "min_us", path, 400, 2600, 500)
    _int(servo, "max_us", path, min_us + 1, 2600, 2500)
    _int(servo, "rest_deg", path, 0, 180, 0)
    _int(servo, "dispense_deg", path, 0, 180, 90)
    _int(servo, "dwell_ms", path, 0, 10000, 600)
    return servo


def validate(config, pins):
    """Check a decoded config in place, fill defaults and return it; raises ConfigError. pins: the
    GPIO numbers the HAL drives, ascending (its PINS: hal_board for the board, hal_sim)."""
    if type(config) is not dict:
        raise ConfigError("config: expected a JSON object")
    _str(config, "thing", "", 1, 64, chars=NAME_CHARS)
    if config.get("wifi") is not None:
        wifi = _section(config, "wifi", "")
        _str(wifi, "ssid", "wifi", 1, 32)
        _str(wifi, "password", "wifi", 0, 64, "")
        _int(wifi, "timeout_s", "wifi", 1, 300, 20)
    mqtt = _section(config, "mqtt", "")
    _str(mqtt, "host", "mqtt", 1, 253)
    _int(mqtt, "port", "mqtt", 1, 65535, 8883)
    _int(mqtt, "keepalive_s", "mqtt", 10, 1200, 60)
    for key in ("ca", "cert", "key"):
        _str(mqtt, key, "mqtt", 1, 128)
    # The thing's own topics (docs/protocol.md, "Topics"): the broker grants it no other, so a topic
    # of another thing would connect and then hear nothing.
    for kind in ("action", "states"):
        own = "cat-feeder/%s/%s" % (config["thing"], kind)
        if _str(mqtt, kind + "_topic", "mqtt", 1, 128, own) != own:
            raise ConfigError("mqtt.%s_topic: expected %s, the thing's own topic" % (kind, own))
    own = shadow_topic(config["thing"])
    if _str(mqtt, "shadow_topic", "mqtt", 1, 128, own) != own:
        raise ConfigError("mqtt.shadow_topic: expected %s, the thing's own shadow" % own)
    # Socket operation timeout and reconnect backoff (firmware/link.py explains the defaults).
    _int(mqtt, "timeout_ms", "mqtt", 100, MAX_TIMEOUT_MS, MAX_TIMEOUT_MS)
    base = _int(mqtt, "backoff_base_ms", "mqtt", 10, 60000, 500)
    _int(mqtt, "backoff_cap_ms", "mqtt", base, 600000, 60000)
    role = config.get("role")
    if role is None:
        role = config["role"] = "feeder"
    elif role not in ROLES:
        raise ConfigError("role: expected feeder or button")
    if role == "feeder":
        servos = _section(config, "servos", "")
        left = _servo(servos, "left", pins)
        right = _servo(servos, "right", pins)
        if left["pin"] == right["pin"]:
            raise ConfigError("servos.right.pin: expected a pin different from servos.left.pin")
    else:
        config["servos"] = None  # a remote button board has no servos
    commands = _section(config, "commands", "", required=False)
    # The journal remembers ids for a day; a command may live at most that, less the clock-skew
    # allowance (the proof in journal.py).
    max_ttl = _int(commands, "max_ttl_s", "commands", 1, MAX_TTL_S, 3600)
    _int(commands, "default_ttl_s", "commands", 1, max_ttl, min(300, max_ttl))
    feeding = _section(config, "feeding", "", required=False)
    # Per bowl. Two bowls at the daily cap fill the journal's slots at most (journal.py).
    per_day = _int(
        feeding, "max_portions_per_day", "feeding", 1, MAX_PORTIONS_PER_DAY, DEFAULT_PORTIONS_PER_DAY
    )
    _int(feeding, "max_portions_per_hour", "feeding", 1, per_day, min(DEFAULT_PORTIONS_PER_HOUR, per_day))
    storage = _section(config, "storage", "", required=False)
    _str(storage, "dir", "storage", 1, 64, "data")
    _int(storage, "outbox_capacity", "storage", 1, 1024, 64)
    _int(config, "telemetry_interval_s", "", 10, 86400, 300)
    # The XIAO ESP32C3 has no user LED: led_pin is optional and the LED is a no-op without it.
    if config.get("led_pin") is None:
        config["led_pin"] = None
    else:
        _pin(config, "led_pin", "", pins)
    _button(config, role, pins)
    ota = _section(config, "ota", "", required=False)
    # The household's release key (tools/release_key.py): the RSA-2048 modulus in hex, or absent.
    if ota.get("release_key") is not None:
        _str(ota, "release_key", "ota", 512, 512, chars=HEX_CHARS)
    # How long an update on trial has to connect before the board restarts (otaboot.py).
    _int(ota, "trial_s", "ota", 5, 3600, 600)
    return config


def _button(config, role, pins):
    """The `button` section: required on a button board, optional on a feeder (absent: no button)."""
    if config.get("button") is None:
        if role == "button":
            raise ConfigError("button: missing, expected an object (a button board needs its button)")
        config["button"] = None
        return
    button = _section(config, "button", "")
    pin = _pin(button, "pin", "button", pins)
    _int(button, "debounce_ms", "button", 1, 200, 30)
    double_ms = _int(button, "double_ms", "button", 50, 2000, 400)
    _int(button, "long_ms", "button", double_ms, 10000, 1000)
    if button.get("local_first") is None:
        button["local_first"] = True
    elif type(button["local_first"]) is not bool:
        raise ConfigError("button.local_first: expected true or false")
    used = [config["led_pin"]]
    if role == "feeder":
        used += [config["servos"]["left"]["pin"], config["servos"]["right"]["pin"]]
    if pin in used:
        raise ConfigError("button.pin: expected a pin no servo or LED uses")


def load(path, pins):
    """Read, decode and validate the config file at path (pins: see validate); raises ConfigError."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError("config: cannot read %s (%s)" % (path, exc)) from None
    try:
        config = json.loads(text)
    except Exception:  # ValueError on both interpreters; UnicodeError on MicroPython for non-UTF-8
        raise ConfigError("config: %s is not valid UTF-8 JSON" % path) from None
    return validate(config, pins)

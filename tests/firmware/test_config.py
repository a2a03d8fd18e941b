"""config.py: the example validates, defaults fill in, and every bad field is named."""

import json

import config
from fwtest import raises, remove_tree, tmpdir
from hal_sim import HAL

PINS = HAL.PINS

EXAMPLE = __file__.rsplit("/", 1)[0] + "/../../firmware/config.example.json"
# The one line a pin outside the ESP32-C3's usable GPIOs (hal_sim.HAL.PINS, as hal_board's) gets.
GPIOS = "expected a GPIO of 0-10, 20-21 (GPIO11-17 serve the flash, 18-19 the USB port)"


def minimal():
    return {
        "thing": "cat-feeder",
        "mqtt": {"host": "localhost", "ca": "ca.der", "cert": "dev.der", "key": "key.der"},
        "servos": {"left": {"pin": 3}, "right": {"pin": 4}},
    }


def error_of(raw):
    return str(raises(config.ConfigError, config.validate, raw, PINS))


def write(directory, name, data):
    path = directory + "/" + name
    with open(path, "wb") as f:
        f.write(data)
    return path


def test_example_config_validates_unchanged():
    with open(EXAMPLE) as f:
        raw = json.loads(f.read())
    loaded = config.load(EXAMPLE, PINS)
    assert loaded["servos"]["left"] == raw["servos"]["left"]
    assert loaded["commands"] == {"default_ttl_s": 300, "max_ttl_s": 3600}
    assert loaded["wifi"]["timeout_s"] == 20
    assert loaded["led_pin"] is None


def test_defaults_fill_optional_fields_and_wifi_may_be_absent():
    c = config.validate(minimal(), PINS)
    assert "wifi" not in c
    assert c["servos"]["right"] == {
        "pin": 4,
        "min_us": 500,
        "max_us": 2500,
        "rest_deg": 0,
        "dispense_deg": 90,
        "dwell_ms": 600,
    }
    assert c["mqtt"]["port"] == 8883 and c["mqtt"]["keepalive_s"] == 60
    assert c["mqtt"]["action_topic"] == "cat-feeder/cat-feeder/action"
    assert c["mqtt"]["states_topic"] == "cat-feeder/cat-feeder/states"
    assert (c["mqtt"]["timeout_ms"], c["mqtt"]["backoff_base_ms"], c["mqtt"]["backoff_cap_ms"]) == (
        6000, 500, 60000)
    assert c["commands"] == {"default_ttl_s": 300, "max_ttl_s": 3600}
    assert c["storage"] == {"dir": "data", "outbox_capacity": 64}
    assert c["telemetry_interval_s"] == 300


def test_the_topics_default_to_and_must_be_the_things_own():
    raw = minimal()
    raw["thing"] = "kitchen"
    mqtt = config.validate(raw, PINS)["mqtt"]
    assert mqtt["action_topic"] == "cat-feeder/kitchen/action"
    assert mqtt["states_topic"] == "cat-feeder/kitchen/states"
    for key, topic in (("action_topic", "cat-feeder/action"), ("states_topic", "cat-feeder/hall/states")):
        raw = minimal()
        raw["mqtt"][key] = topic
        own = "cat-feeder/cat-feeder/" + key.split("_")[0]
        assert error_of(raw) == "mqtt.%s: expected %s, the thing's own topic" % (key, own)


def test_unknown_fields_pass_through():
    raw = minimal()
    raw["mqtt"]["op_timeout_ms"] = 5000
    assert config.validate(raw, PINS)["mqtt"]["op_timeout_ms"] == 5000


def test_out_of_range_int_names_path_and_form():
    raw = minimal()
    raw["servos"]["left"]["min_us"] = 10000
    assert error_of(raw) == "servos.left.min_us: expected int 400..2600"


def test_bool_and_float_are_not_ints():
    raw = minimal()
    raw["servos"]["right"]["dwell_ms"] = True
    assert error_of(raw) == "servos.right.dwell_ms: expected int 0..10000"
    raw = minimal()
    raw["mqtt"]["port"] = 8883.0
    assert error_of(raw) == "mqtt.port: expected int 1..65535"


def test_missing_required_fields_are_named():
    raw = minimal()
    del raw["servos"]["left"]["pin"]
    assert error_of(raw) == "servos.left.pin: missing, " + GPIOS
    raw = minimal()
    del raw["mqtt"]["key"]
    assert error_of(raw) == "mqtt.key: missing, expected string of 1..128 characters"
    raw = minimal()
    del raw["servos"]
    assert error_of(raw) == "servos: missing, expected an object"
    raw = minimal()
    del raw["thing"]
    assert error_of(raw).startswith("thing: missing, expected string")


def test_wrong_shapes_are_named():
    assert error_of([1]) == "config: expected a JSON object"
    raw = minimal()
    raw["servos"]["left"] = 3
    assert error_of(raw) == "servos.left: expected an object"
    raw = minimal()
    raw["wifi"] = {"ssid": ""}
    assert error_of(raw) == "wifi.ssid: expected string of 1..32 characters"
    raw = minimal()
    raw["thing"] = "cat feeder/#"
    assert error_of(raw) == "thing: expected string of 1..64 characters from [A-Za-z0-9_-]"


def test_cross_field_rules():
    raw = minimal()
    raw["servos"]["left"]["min_us"] = 2000
    raw["servos"]["left"]["max_us"] = 1500
    assert error_of(raw) == "servos.left.max_us: expected int 2001..2600"
    raw = minimal()
    raw["commands"] = {"default_ttl_s": 7200, "max_ttl_s": 3600}
    assert error_of(raw) == "commands.default_ttl_s: expected int 1..3600"
    raw = minimal()
    raw["mqtt"]["backoff_base_ms"] = 2000
    raw["mqtt"]["backoff_cap_ms"] = 1000
    assert error_of(raw) == "mqtt.backoff_cap_ms: expected int 2000..600000"
    raw = minimal()
    raw["servos"]["right"]["pin"] = 3
    assert error_of(raw) == "servos.right.pin: expected a pin different from servos.left.pin"


def test_the_hal_says_which_pins_are_valid():
    assert PINS == (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 21)  # the ESP32-C3's, as hal_board's
    raw = minimal()
    raw["servos"]["left"]["pin"] = 10
    assert config.validate(raw, PINS)["servos"]["left"]["pin"] == 10
    narrower = str(raises(config.ConfigError, config.validate, minimal(), (4, 5, 6, 9)))
    assert narrower.startswith("servos.left.pin: expected a GPIO of 4-6, 9 (")
    raw = dict(minimal(), led_pin=10)
    error = str(raises(config.ConfigError, config.validate, raw, (0, 3, 4, 9)))
    assert error.startswith("led_pin: expected a GPIO of 0, 3-4, 9 (")


def test_the_c3_flash_and_usb_pins_are_refused_with_one_line():
    # Defect 10: GPIO11-17 serve the SPI flash (driving one stops the chip), 18-19 the USB port the
    # console runs on; the port's C3 pin table (ports/esp32/machine_pin.h) leaves 14-19 out.
    for pin in (11, 12, 13, 14, 15, 16, 17, 18, 19, 22, -1, True):
        raw = minimal()
        raw["servos"]["left"]["pin"] = pin
        assert error_of(raw) == "servos.left.pin: " + GPIOS, pin
        raw = dict(minimal(), button={"pin": pin})
        assert error_of(raw) == "button.pin: " + GPIOS, pin


def test_the_socket_timeout_stays_well_under_the_watchdog():
    # Defect 6: a connect attempt (DNS and up to five socket operations) runs between two watchdog
    # feeds; 60000 ms was allowed, as long as the 60 s watchdog itself.
    raw = minimal()
    raw["mqtt"]["timeout_ms"] = 6000
    assert config.validate(raw, PINS)["mqtt"]["timeout_ms"] == 6000
    raw["mqtt"]["timeout_ms"] = 6001
    assert error_of(raw) == "mqtt.timeout_ms: expected int 100..6000"
    assert 5 * config.MAX_TIMEOUT_MS <= 60000 // 2


def test_led_pin_is_optional():
    raw = minimal()
    raw["led_pin"] = 10
    assert config.validate(raw, PINS)["led_pin"] == 10
    raw["led_pin"] = "10"
    assert error_of(raw) == "led_pin: " + GPIOS


def test_bad_files_give_config_errors():
    directory = tmpdir()
    try:
        missing = str(raises(config.ConfigError, config.load, directory + "/absent.json", PINS))
        assert missing.startswith("config: cannot read " + directory + "/absent.json")
        for data in (b"", b"{not json", b'{"thing": "\xff\xfe"}', b"\x00" * 100):
            error = str(raises(config.ConfigError, config.load, write(directory, "c.json", data), PINS))
            assert error.endswith("is not valid UTF-8 JSON"), error
        error = str(raises(config.ConfigError, config.load, write(directory, "c.json", b"[]"), PINS))
        assert error == "config: expected a JSON object"
    finally:
        remove_tree(directory)


def test_a_feeders_button_is_optional_and_filled_with_defaults():
    defaults = config.validate(minimal(), PINS)
    assert defaults["button"] is None and defaults["role"] == "feeder"
    loaded = config.validate(dict(minimal(), button={"pin": 5}), PINS)
    defaults = {"debounce_ms": 30, "double_ms": 400, "long_ms": 1000, "local_first": True}
    assert loaded["button"] == dict(defaults, pin=5)


def test_a_button_board_needs_its_button_and_no_servos():
    board = {"thing": "hall-button", "role": "button", "mqtt": minimal()["mqtt"], "button": {"pin": 9}}
    loaded = config.validate(board, PINS)
    assert loaded["servos"] is None and loaded["button"]["pin"] == 9
    del board["button"]
    assert error_of(board) == "button: missing, expected an object (a button board needs its button)"


def test_bad_role_and_button_fields_are_named():
    assert error_of(dict(minimal(), role="lamp")) == "role: expected feeder or button"
    cases = [
        ({}, "button.pin: missing, " + GPIOS),
        ({"pin": 3}, "button.pin: expected a pin no servo or LED uses"),
        ({"pin": 5, "long_ms": 300}, "button.long_ms: expected int 400..10000"),
        ({"pin": 5, "debounce_ms": True}, "button.debounce_ms: expected int 1..200"),
        ({"pin": 5, "local_first": 1}, "button.local_first: expected true or false"),
        (9, "button: expected an object"),
    ]
    for section, message in cases:
        assert error_of(dict(minimal(), button=section)) == message


def test_the_release_key_is_optional_and_must_be_an_rsa_2048_modulus_in_hex():
    raw = minimal()
    assert config.validate(raw, HAL.PINS)["ota"] == {"trial_s": 600}
    raw = minimal()
    raw["ota"] = {"release_key": "c" + "0" * 510 + "1"}
    assert config.validate(raw, HAL.PINS)["ota"]["release_key"] == "c" + "0" * 510 + "1"
    expected = "ota.release_key: expected string of 512..512 characters of [0-9a-f]"
    for bad in ("c" * 511, "c" * 513, "C" * 512, "g" * 512, 12):
        raw = minimal()
        raw["ota"] = {"release_key": bad}
        assert error_of(raw) == expected, bad
    raw = minimal()
    raw["ota"] = "key"
    assert error_of(raw) == "ota: expected an object"


def test_the_trial_time_of_an_update_is_bounded():
    for good in (5, 3600):
        raw = minimal()
        raw["ota"] = {"trial_s": good}
        assert config.validate(raw, HAL.PINS)["ota"]["trial_s"] == good
    for bad in (4, 3601, 60.0, True):
        raw = minimal()
        raw["ota"] = {"trial_s": bad}
        assert error_of(raw) == "ota.trial_s: expected int 5..3600", bad

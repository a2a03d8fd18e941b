"""bootonly.call: a boot-only module does its work and leaves sys.modules (so the heap) afterwards."""

import sys

import bootonly
from hal_sim import HAL

EXAMPLE = __file__.rsplit("/", 1)[0] + "/../../firmware/config.example.json"


def test_config_is_loaded_then_released():
    sys.modules.pop("config", None)  # another test file may have imported it in this process
    loaded = bootonly.call("config", "load", EXAMPLE, HAL.PINS)
    assert loaded["servos"]["left"]["pin"] == 3 and loaded["commands"]["max_ttl_s"] == 3600
    assert "config" not in sys.modules


def test_a_failing_call_raises_and_releases_the_module_too():
    sys.modules.pop("config", None)
    try:
        bootonly.call("config", "load", EXAMPLE + ".missing", HAL.PINS)
    except ValueError as exc:  # config.ConfigError
        assert "config: cannot read" in str(exc)
    else:
        raise AssertionError("a missing config file was accepted")
    assert "config" not in sys.modules


def test_a_module_imported_before_the_call_stays():
    import expiry

    assert bootonly.call("expiry", "expired", 0, 10, 11) is True
    assert sys.modules["expiry"] is expiry

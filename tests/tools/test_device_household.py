"""`make device THING=`: the simulated board as a thing of the household file (tools/device.py)."""

import json

from firmware import config as firmware_config
from tests.makerun import make, own_lines
from tools import device

HOUSEHOLD = {"things": [
    {"thing": "kitchen", "caps": {"max_portions_per_hour": 1, "max_portions_per_day": 3}},
    {"thing": "hall-button", "role": "button", "feeds": "kitchen"},
]}


def test_a_household_thing_runs_with_its_role_topics_and_caps(tmp_path):
    path = tmp_path / "household.json"
    path.write_text(json.dumps(HOUSEHOLD))
    known = device.household.load(path)
    pins = tuple(range(22))
    feeder = firmware_config.validate(device.household_config(8883, known["things"][0]), pins)
    assert (feeder["thing"], feeder["role"], feeder["mqtt"]["action_topic"]) == (
        "kitchen", "feeder", "cat-feeder/kitchen/action")
    assert (feeder["feeding"]["max_portions_per_hour"], feeder["feeding"]["max_portions_per_day"]) == (1, 3)
    button = firmware_config.validate(device.household_config(8883, known["things"][1]), pins)
    assert (button["thing"], button["role"], button["servos"]) == ("hall-button", "button", None)


def test_make_device_refuses_a_thing_the_household_does_not_name_in_one_line(tmp_path):
    done = make("device", "THING=attic", "HOUSEHOLD=%s" % (tmp_path / "none.json"), timeout=60)
    assert done.returncode != 0
    assert own_lines(done.stderr) == [
        "device: thing: 'attic' is not in the household file (it names cat-feeder)"], done.stderr


def test_the_simulated_board_gets_the_release_key_as_make_flash_gives_a_board(tmp_path):
    """`make release`, then `make device HUB=1` and `make ota`: the board checks a release against the
    household's key, so without it every update failed "no release key on this device"."""
    from tools import release_key

    config = device.device_config(8883)
    assert "ota" not in device.with_release_key(config, str(tmp_path / "none"))
    release_key.ensure(str(tmp_path / "keys"))
    modulus = release_key.modulus_hex(str(tmp_path / "keys"))
    provisioned = firmware_config.validate(device.with_release_key(config, str(tmp_path / "keys")),
                                           tuple(range(22)))
    assert modulus and provisioned["ota"]["release_key"] == modulus


def test_the_firmware_ending_says_start_it_again(tmp_path, monkeypatch, capsys):
    """After an update is staged the firmware exits to restart, and `make device` ended without a word;
    a board reboots by itself, the stand-in says how to start it again."""

    class Ended:
        def wait(self):
            return 0

        def poll(self):
            return 0

    monkeypatch.setattr(device, "start", lambda *args, **kwargs: Ended())
    monkeypatch.setattr(device.signal, "signal", lambda *args: None)  # keep pytest's SIGTERM handling
    path = tmp_path / "household.json"
    path.write_text(json.dumps(HOUSEHOLD))
    assert device.main(["run", "--thing", "kitchen", "--household", str(path), "--pki", str(tmp_path / "pki"),
                        "--flash", str(tmp_path / "flash")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "device: the firmware stopped (exit status 0), as a board does to restart: start it again "
        "(make device THING=kitchen) and it boots as the board would")

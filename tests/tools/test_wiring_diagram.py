"""hardware/wiring.svg is generated from hardware/wiring.py's table, and that table agrees with the config."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "hardware"))

import wiring  # noqa: E402  (hardware/ is not a package)


def test_the_committed_picture_is_what_the_script_draws():
    done = subprocess.run(
        [sys.executable, "hardware/wiring.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_diagram_pins_are_the_example_configs_and_avoid_the_strapping_pins():
    with open(os.path.join(ROOT, "firmware", "config.example.json")) as f:
        servos = json.load(f)["servos"]
    assert {side: servos[side]["pin"] for side in ("left", "right")} == wiring.SERVO_GPIOS
    gpio_of = dict(wiring.LEFT_PINS + wiring.RIGHT_PINS)
    wired = {gpio_of[label] for label, *_ in wiring.CONNECTIONS if gpio_of[label] is not None}
    assert wired == {3, 4, wiring.BUTTON_GPIO, wiring.LOOPBACK_GPIO}
    assert not wired & set(wiring.STRAPPING)
    for label, _, _, _, note in wiring.CONNECTIONS:
        if gpio_of[label] is not None:
            assert note.startswith("GPIO%d" % gpio_of[label]), note

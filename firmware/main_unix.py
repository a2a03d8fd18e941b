"""Unix-port entry point: the same boot and main loop as the board, on the simulated HAL.

    micropython main_unix.py [config.json]

Run from the folder that acts as the board's flash (tools/device.py prepares it). The HAL runs
on the real clock. Options for the unix port only, in the config's `sim` object:
- `trace`: file that receives one "<ticks_us> <pin> <duty_ns>" line per PWM write (servo trace);
  ticks_us is CLOCK_MONOTONIC in microseconds, the clock of CPython's time.monotonic_ns();
- `servo_wait` (default true): false skips the servo travel and dwell waits (benchmarks: no
  servo is attached here, the PWM writes are still traced);
- `fixed_poll_ms`: check for input only this often, like the seed's device (benchmark baseline);
- `freeze_at_write`: hang before that PWM write (1 = the first of this run), printing "sim: frozen",
  so a test can kill the device at an exact point of a servo movement;
- `clock_offset_s`: seconds added to the device's Unix time (a test runs it an hour later);
- `button`: file holding the virtual button's level ("0" = held; tools/sim_board.py writes it);
- `clock`: file holding seconds added to the device's Unix time, read at every reading (a test moves
  a running device's clock by days); `clock_trusted` (default true): false, the clock counts as not
  set by NTP (the schedule waits); `schedule_check_ms`: the schedule's longest wait between checks
  (default 60000; a test moving the clock shortens it).
"""

import json
import sys

import app
from hal_sim import HAL


class NoWaitServos:
    """What the servos see when servo_wait is false: the same PWM and LED, no waiting."""

    def __init__(self, hal):
        self.hal = hal

    def pwm(self, pin):
        return self.hal.pwm(pin)

    def sleep_ms(self, ms):
        pass

    def led(self, state):
        self.hal.led(state)

    def watchdog_feed(self):
        self.hal.watchdog_feed()


def main(config_path):
    with open(config_path) as f:
        sim = json.load(f).get("sim") or {}
    # One HAL for the servos and the loop, so they share the trace; the sim LED needs no pin.
    hal = HAL(trace_path=sim.get("trace"), virtual=False, freeze_at_write=sim.get("freeze_at_write", 0),
              clock_offset_s=sim.get("clock_offset_s", 0), button_path=sim.get("button"),
              clock_path=sim.get("clock"), clock_trusted=sim.get("clock_trusted", True))
    options = {"fixed_poll_ms": sim.get("fixed_poll_ms", 0)}
    if "schedule_check_ms" in sim:
        options["schedule_check_ms"] = sim["schedule_check_ms"]
    if not sim.get("servo_wait", True):
        options["servo_hal"] = NoWaitServos(hal)
    app.boot(lambda led_pin: hal, config_path, HAL.PINS, **options)


main(sys.argv[1] if len(sys.argv) > 1 else "config.json")

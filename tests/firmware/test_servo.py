"""servo.py with the sim HAL: pulse widths, the move/dwell/return trace, detaching, one dispense at a time."""

import hal_sim
import servo
from fwtest import remove_tree, tmpdir
from servo import LEFT, RIGHT

LEFT_PIN = 3
RIGHT_PIN = 4


def make(hal=None, **calibration):
    hal = hal or hal_sim.HAL()
    left = servo.Servo(hal, LEFT_PIN, **calibration)
    right = servo.Servo(hal, RIGHT_PIN, **calibration)
    return hal, servo.Dispenser(hal, left, right)


# The wait for a 90-degree move: 2 ms per degree (an SG90 at 5 V turns ~60 degrees per 120 ms)
# plus a 100 ms margin.
TRAVEL_90_DEG_MS = 280


def test_pulse_width_follows_the_calibration():
    s = servo.Servo(hal_sim.HAL(), LEFT_PIN, min_us=600, max_us=2400)
    # Known widths, worked out by hand: 600 us at 0 degrees to 2400 us at 180, linear in between.
    widths_us = {0: 600, 10: 700, 45: 1050, 90: 1500, 100: 1600, 135: 1950, 180: 2400}
    for degrees, width_us in widths_us.items():
        assert s.pulse_ns(degrees) == width_us * 1000, degrees
    default = servo.Servo(hal_sim.HAL(), LEFT_PIN)  # the common SG90 range, 500-2500 us
    assert [default.pulse_ns(d) for d in (0, 45, 90, 180)] == [500000, 1000000, 1500000, 2500000]


def test_single_dispense_trace():
    hal, dispenser = make(min_us=600, max_us=2400, rest_deg=10, dispense_deg=100, dwell_ms=700)
    assert dispenser.dispense(LEFT)
    pins = [pin for _t, pin, _d in hal.pwm_writes]
    duties = [duty for _t, _p, duty in hal.pwm_writes]
    times = [t for t, _p, _d in hal.pwm_writes]
    assert pins == [LEFT_PIN] * 4
    # open, detach once there, (dwell with the PWM off), close, detach once there
    assert duties == [1600000, 0, 700000, 0]  # 100 and 10 degrees on a 600-2400 us servo
    assert times[1] - times[0] == TRAVEL_90_DEG_MS * 1000
    assert times[2] - times[1] == 700 * 1000
    assert times[3] - times[2] == TRAVEL_90_DEG_MS * 1000
    assert hal.pwm_freq == {LEFT_PIN: 50}
    assert hal.led_state == "online"


def test_trace_file_gets_every_write_and_memory_keeps_none():
    directory = tmpdir()
    try:
        path = directory + "/servo.trace"
        hal, dispenser = make(hal_sim.HAL(trace_path=path))
        assert dispenser.dispense(RIGHT)
        with open(path) as trace:
            lines = [line.split() for line in trace.read().splitlines()]
        assert [(int(pin), int(duty)) for _t, pin, duty in lines] == [
            (RIGHT_PIN, 1500000), (RIGHT_PIN, 0), (RIGHT_PIN, 500000), (RIGHT_PIN, 0)]
        assert hal.pwm_writes is None  # a device running for days must not grow a list
    finally:
        remove_tree(directory)


def test_long_moves_left_then_right_never_together():
    hal, dispenser = make()
    assert dispenser.dispense(LEFT | RIGHT)
    pins = [pin for _t, pin, _d in hal.pwm_writes]
    assert pins == [LEFT_PIN] * 4 + [RIGHT_PIN] * 4
    assert hal.pwm_writes[3][2] == 0  # left detached before the right one starts
    assert hal.pwm_freq == {LEFT_PIN: 50, RIGHT_PIN: 50}


def test_double_moves_only_the_right_servo():
    hal, dispenser = make()
    assert dispenser.dispense(RIGHT)
    assert [pin for _t, pin, _d in hal.pwm_writes] == [RIGHT_PIN] * 4


def test_reentrant_dispense_is_refused():
    hal, dispenser = make()
    inner = []
    real_sleep = hal.sleep_ms

    def sleep_and_reenter(ms):
        inner.append(dispenser.dispense(RIGHT))
        real_sleep(ms)

    hal.sleep_ms = sleep_and_reenter
    assert dispenser.dispense(LEFT)
    assert inner and not any(inner)
    assert [pin for _t, pin, _d in hal.pwm_writes] == [LEFT_PIN] * 4
    assert not dispenser.busy
    assert dispenser.dispense(RIGHT)  # free again afterwards


class FaultyPWM:
    def __init__(self, inner):
        self.inner = inner

    def freq(self, hz):
        self.inner.freq(hz)

    def duty_ns(self, ns):
        raise OSError("pwm fault")

    def deinit(self):
        self.inner.deinit()


def test_pwm_is_detached_even_when_a_move_fails():
    hal, dispenser = make()
    real_pwm = hal.pwm
    hal.pwm = lambda pin: FaultyPWM(real_pwm(pin))
    failed = False
    try:
        dispenser.dispense(LEFT)
    except OSError:
        failed = True
    assert failed
    assert hal.pwm_writes[-1][1:] == (LEFT_PIN, 0)
    assert not dispenser.busy


def test_virtual_clock():
    hal = hal_sim.HAL(start_unix=1000)
    hal.sleep_ms(2500)
    assert hal.ticks_ms() == 2500 and hal.unix_time() == 1002
    hal.advance_s(60)
    assert hal.unix_time() == 1062
    assert hal.ticks_diff(hal.ticks_ms(), 2500) == 60000

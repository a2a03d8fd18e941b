"""hal_board.py on the board twin (tests/board_twin/): the servos' PWM, the LED, the watchdog and
the pins as MicroPython's ESP32 port defines them, on each release the twin imitates."""

import twin  # noqa: I001  (first: the twin's machine before the firmware imports it)

from fwtest import raises
from servo import Dispenser, Servo

LEFT, RIGHT = 3, 4
REST_NS = 500000  # a servo's default rest pulse (Servo: min_us 500 at 0 degrees)
DISPENSE_NS = 1500000  # 90 degrees
LEDC_STEP_NS = 2500  # one step of the C3's 13-14-bit duty at 50 Hz (20 ms / 8192)


def near(got, want):
    return abs(got - want) <= LEDC_STEP_NS


def board(version):
    board_twin = twin.use(version)
    import hal_board

    return board_twin, hal_board.HAL()


def test_each_gate_is_driven_to_rest_at_boot_on_every_release():
    # Defect 1: PWM(pin, freq=50, duty_ns=ns) raises RuntimeError("PWM is inactive") on 1.26+
    # (machine_pwm.c checks duty_ns before a timer exists); Dispenser.park swallowed it, nothing moved.
    for version in twin.VERSIONS:
        board_twin, hal = board(version)
        Dispenser(hal, Servo(hal, LEFT), Servo(hal, RIGHT)).park()
        for pin in (LEFT, RIGHT):
            pulses = board_twin.pulses(pin)
            assert len(pulses) == 1 and near(pulses[0], REST_NS), (version, pin, board_twin.trace)
            assert board_twin.output(pin) == ("level", 0), (version, pin)  # detached afterwards


def test_a_servo_sees_only_its_own_pulse_width_never_the_port_default():
    # The port's default is 5 kHz at 50 %: a twitch. Only 50 Hz pulses of the asked width, ever.
    for version in twin.VERSIONS:
        board_twin, hal = board(version)
        Servo(hal, LEFT, dispense_deg=90, dwell_ms=0).dispense()
        seen = [out for pin, out in board_twin.trace if pin == LEFT and out[0] == "pwm"]
        assert [out[1] for out in seen] == [50, 50], (version, seen)
        assert near(seen[0][2], DISPENSE_NS) and near(seen[1][2], REST_NS), (version, seen)


def test_a_detached_servo_pin_stays_low_while_the_other_servo_moves():
    # Defect 9: on 1.26+ deinit stops the LEDC channel but leaves the pin routed to it; the other
    # servo then takes the same channel, and the first pin would copy its pulses.
    for version in twin.VERSIONS:
        board_twin, hal = board(version)
        Servo(hal, LEFT).park()
        moved_left = len(board_twin.pulses(LEFT))
        Servo(hal, RIGHT, rest_deg=90).park()
        assert len(board_twin.pulses(LEFT)) == moved_left, (version, board_twin.trace)
        assert board_twin.output(LEFT) == ("level", 0) and near(board_twin.pulses(RIGHT)[0], DISPENSE_NS)


def test_every_led_state_is_a_frequency_the_c3_reaches_on_every_release():
    # Defect 4: the C3's LEDC cannot divide its clock down to 1 Hz or 4 Hz (about 2.4 Hz on 1.24's
    # 40 MHz XTAL, 4.8 Hz on 1.25's 80 MHz APB at 14 bits, 9.5 Hz on 1.26+ at 13 bits).
    import hal_board

    for version in twin.VERSIONS:
        board_twin = twin.use(version)
        hal = hal_board.HAL(led_pin=10)
        for state in ("connecting", "online", "offline", "dispensing", "online"):
            hal.led(state)
            out = board_twin.output(10)
            assert out is not None and out[0] == "pwm" and out[1] == hal_board.LED_PATTERNS[state][0], (
                version, state, out)


def test_a_failing_led_never_raises():
    # The LED is only a light, and it changes state after the watchdog started: a failure of it
    # must not reset the board. Here every LEDC channel is taken, so the LED cannot get one.
    import machine

    board_twin, hal = board((1, 26))
    hal = type(hal)(led_pin=10)
    taken = [machine.PWM(machine.Pin(pin), freq=50, duty_u16=0) for pin in (0, 1, 2, 3, 4, 5)]
    hal.led("connecting")
    hal.led("offline")
    assert board_twin.output(10) is None and len(taken) == 6


def test_the_watchdog_cannot_be_stopped_and_survives_a_soft_reset():
    board_twin, hal = board((1, 26))
    import machine

    hal.watchdog_start(60000)
    hal.watchdog_feed()
    assert board_twin.watchdog == [60000, 1]
    assert not hasattr(machine.WDT, "deinit")  # extmod/machine_wdt.c: feed() only
    board_twin.soft_reset()  # mpremote's Ctrl-D: the task watchdog stays armed
    assert board_twin.watchdog == [60000, 1]


def test_the_pins_offered_are_the_c3_gpios_the_port_can_drive():
    # Defect 10: GPIO11-17 serve the SPI flash, 18-19 the USB port (the XIAO's console); the port's
    # C3 pin table (machine_pin.h) leaves 14-19 out. Every pin offered exists on the board.
    import hal_sim
    import machine

    board_twin, hal = board((1, 26))
    assert tuple(hal.PINS) == tuple(range(0, 11)) + (20, 21)
    assert tuple(hal_sim.HAL.PINS) == tuple(hal.PINS)  # a config that runs on the sim runs on the board
    for pin in hal.PINS:
        machine.Pin(pin, machine.Pin.OUT, value=0)
    raises(ValueError, machine.Pin, 14)

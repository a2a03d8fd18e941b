"""Servos and the dispenser: turn a bowls mask into gate movements.

A hobby servo takes a 50 Hz pulse train whose pulse width sets the angle. Each servo has its
own calibration (config `servos.<side>`): `min_us` at 0 degrees and `max_us` at 180 degrees
(default 500..2500 us), linear in between.

A dispense is: move to `dispense_deg`, dwell `dwell_ms` while the food falls, move back to
`rest_deg`. The PWM is detached (deinit) after each move, once the servo has had time to get
there: an idle servo then neither buzzes nor heats, and the gearing holds the gate meanwhile.

LONG feeds the left bowl, then the right one, never both at once: a stalling SG90 draws about
650 mA, and two at once on a USB-powered board can brown out the ESP32-C3 mid-dispense.
"""

from micropython import const

# The bits of a bowls mask, which Dispenser.dispense feeds: the hardware's, so that parsing
# (command.py maps each event onto them) imports them downward.
LEFT = 1
RIGHT = 2
_PWM_HZ = const(50)
# An SG90 at 5 V turns about 60 degrees per 120 ms; wait that long per degree plus a margin
# before detaching, so the servo reaches its target under load.
_TRAVEL_MS_PER_DEG = const(2)
_TRAVEL_MARGIN_MS = const(100)


class Servo:
    def __init__(self, hal, pin, min_us=500, max_us=2500, rest_deg=0, dispense_deg=90, dwell_ms=600):
        self.hal = hal
        self.pin = pin
        self.min_us = min_us
        self.max_us = max_us
        self.rest_deg = rest_deg
        self.dispense_deg = dispense_deg
        self.dwell_ms = dwell_ms

    def pulse_ns(self, degrees):
        return (self.min_us * 1000) + (self.max_us - self.min_us) * 1000 * degrees // 180

    def move(self, from_deg, to_deg):
        """Drive to to_deg, wait for the servo to get there, then detach."""
        # A backlog of dispenses must never starve the watchdog (a dwell is at most 10 s).
        self.hal.watchdog_feed()
        pwm = self.hal.pwm(self.pin)
        try:
            pwm.freq(_PWM_HZ)
            pwm.duty_ns(self.pulse_ns(to_deg))
            self.hal.sleep_ms(abs(to_deg - from_deg) * _TRAVEL_MS_PER_DEG + _TRAVEL_MARGIN_MS)
        finally:
            pwm.deinit()  # even after an error: a servo left driven buzzes and heats

    def dispense(self):
        self.move(self.rest_deg, self.dispense_deg)
        self.hal.sleep_ms(self.dwell_ms)
        self.move(self.dispense_deg, self.rest_deg)

    def park(self):
        """Close the gate from wherever it is: waits as long as the full dispense travel takes."""
        self.move(self.dispense_deg, self.rest_deg)


class Dispenser:
    """One dispense at a time: a call made while another runs is refused (returns False)."""

    def __init__(self, hal, left, right):
        self.hal = hal
        self.left = left
        self.right = right
        self.busy = False

    def dispense(self, bowls):
        """Feed the bowls in the mask, left first; True when it ran, False when refused as busy."""
        if self.busy:
            return False
        self.busy = True
        self.hal.led("dispensing")
        try:
            if bowls & LEFT:
                self.left.dispense()
            if bowls & RIGHT:
                self.right.dispense()
        finally:
            self.busy = False
            # Commands only arrive over MQTT, so the device is online when a dispense ends.
            self.hal.led("online")
        return True

    def park(self):
        """Drive every gate to rest, one servo at a time, and detach: the safe state.

        At boot (a crash or power cut may have left a gate open, and food keeps falling) and after
        a dispense that raised. Never raises: a failing servo must not stop the other one."""
        for gate in (self.left, self.right):
            try:
                gate.park()
            except Exception:
                pass

"""Hardware abstraction for the Seeed XIAO ESP32C3 (same methods as hal_sim.HAL).

- PWM: machine.PWM, created only at the first pulse width so the servo never sees the
  port's default frequency/duty for a moment (that twitches it); deinit releases the pin.
- Wi-Fi and NTP: board_network.py (NETWORK), used only at boot by startup.py and released.
- Time: unix_time() adds the 1970->2000 offset when the port's epoch is 2000.
- Watchdog: machine.WDT, fed by the main loop (and while waiting for Wi-Fi and NTP).
- Button: board_button.py, imported at the first button() call (only a button board makes one).
- LED: optional (the XIAO ESP32C3 has no user LED). A pattern is a slow PWM on the LED pin,
  so it blinks by itself without a timer or the main loop.
"""

import gc
import time

import machine

# Seconds from 1970-01-01 to 2000-01-01, for ports whose time.time() counts from 2000.
EPOCH_2000_OFFSET = 946684800
# state -> (blink frequency in Hz, share of the period lit, out of 65535)
LED_PATTERNS = {
    "connecting": (4, 32768),  # fast blink
    "online": (1, 65535),  # steady on
    "offline": (1, 6554),  # short blip once a second
    "dispensing": (10, 32768),  # flicker
}


class BoardPWM:
    def __init__(self, pin):
        self._pin = pin
        self._hz = 50
        self._pwm = None

    def freq(self, hz):
        self._hz = hz
        if self._pwm is not None:
            self._pwm.freq(hz)

    def duty_ns(self, ns):
        if self._pwm is None:
            self._pwm = machine.PWM(machine.Pin(self._pin), freq=self._hz, duty_ns=ns)
        else:
            self._pwm.duty_ns(ns)

    def deinit(self):
        if self._pwm is not None:
            self._pwm.deinit()
            self._pwm = None


class HAL:
    PINS = (0, 21)  # the ESP32-C3's GPIO numbers, first and last: config.py validates pins against them
    NETWORK = "board_network"  # joins Wi-Fi and sets the clock at boot (startup.py)

    def __init__(self, led_pin=None):
        self.led_pin = led_pin
        self._led = None
        self._wdt = None
        self._epoch_offset = EPOCH_2000_OFFSET if time.gmtime(0)[0] == 2000 else 0

    def pwm(self, pin):
        return BoardPWM(pin)

    def button(self, pin, on_edge=None):
        """The button on GPIO pin: input with the internal pull-up (pressed = 0, the button shorts it to
        GND). on_edge(pin) is a soft IRQ on both edges: it runs between bytecodes, so it may allocate,
        and it should only set a flag for the main loop. Its class is imported only here: a board
        without a button never loads it."""
        from board_button import BoardButton

        return BoardButton(pin, on_edge)

    def sleep_ms(self, ms):
        time.sleep_ms(ms)

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def unix_time(self):
        return time.time() + self._epoch_offset

    def free_heap(self):
        return gc.mem_free()

    def watchdog_start(self, timeout_ms):
        self._wdt = machine.WDT(timeout=timeout_ms)

    def watchdog_feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    def led(self, state):
        if self.led_pin is None:
            return
        hz, duty = LED_PATTERNS[state]
        if self._led is None:
            self._led = machine.PWM(machine.Pin(self.led_pin), freq=hz, duty_u16=duty)
        else:
            self._led.init(freq=hz, duty_u16=duty)

"""Hardware abstraction for the Seeed XIAO ESP32C3 (same methods as hal_sim.HAL).

Each board API follows MicroPython's ESP32 port as its source defines it (docs/board.md has the
table of every call, its source file and versions, and the board twin that imitates it):
- PWM (ports/esp32/machine_pwm.c): created at the first pulse width, with duty_u16=0, and the width
  set by duty_ns() afterwards. duty_ns cannot be a constructor argument: from 1.26 the init helper
  checks it before a timer exists and raises RuntimeError("PWM is inactive"); without a duty the
  port starts at 5 kHz / 50 %, which twitches a servo. deinit() stops the channel, and the pin is
  then made a plain output driven low: from 1.26 deinit leaves the pin routed to the LEDC channel,
  which the other servo takes next.
- Wi-Fi and NTP: board_network.py (NETWORK), used only at boot by startup.py and released.
- Time: unix_time() adds the 1970->2000 offset when the port's epoch is 2000.
- Watchdog (ports/esp32/machine_wdt.c): machine.WDT, fed by the main loop (and while waiting for
  Wi-Fi and NTP). It cannot be stopped and a soft reset leaves it running (main.c).
- Button: board_button.py, imported at the first button() call (only a button board makes one).
- Pins (ports/esp32/machine_pin.h, the C3's table): HAL.PINS are the GPIOs free for servos, LED and
  button; GPIO11-17 serve the SPI flash and 18-19 the USB port (the console).
- LED: optional (the XIAO ESP32C3 has no user LED), a PWM on the LED pin at a frequency the C3's
  LEDC reaches on every release (10 Hz and up: see LED_PATTERNS), so it needs no timer or loop.
  A failing LED is left alone from then on, never raised: it changes state after the watchdog started.
"""

import gc
import time

import machine

# Seconds from 1970-01-01 to 2000-01-01, for ports whose time.time() counts from 2000.
EPOCH_2000_OFFSET = 946684800
# state -> (PWM frequency in Hz, share of the period lit, out of 65535). The C3's LEDC divides its
# clock by at most 1024 at 13-14 bits of duty (machine_pwm.c set_freq), so its slowest PWM is about
# 2.4 Hz on 1.24 (40 MHz XTAL), 4.8 Hz on 1.25 and 9.5 Hz from 1.26 (80 MHz APB, 13 bits): 10 Hz is
# the slowest blink every release reaches. A slower blink would need a timer; steady levels do instead.
LED_PATTERNS = {
    "connecting": (10, 32768),  # flicker
    "online": (1000, 65535),  # steady on
    "offline": (1000, 3277),  # dim glow
    "dispensing": (10, 6554),  # short flashes
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
            # duty_u16=0: low until the width is set (see the module docstring: never duty_ns here).
            self._pwm = machine.PWM(machine.Pin(self._pin), freq=self._hz, duty_u16=0)
        self._pwm.duty_ns(ns)

    def deinit(self):
        if self._pwm is not None:
            self._pwm.deinit()
            self._pwm = None
            machine.Pin(self._pin, machine.Pin.OUT, value=0)  # off the LEDC channel (1.26+), low


class HAL:
    # The ESP32-C3's GPIOs a servo, the LED or the button may use (config.py validates against them;
    # tools/board.py reads this literal).
    PINS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 21)
    NETWORK = "board_network"  # joins Wi-Fi and sets the clock at boot (startup.py)

    def __init__(self, led_pin=None):
        self.led_pin = led_pin
        self._led = None
        self._wdt = None
        self._epoch_offset = EPOCH_2000_OFFSET if time.gmtime(0)[0] == 2000 else 0
        self._clock_synced = False  # NTP set the RTC since boot (startup.py says so)

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

    def clock_synced(self):
        """NTP has just set the clock: from now on it is trusted (the schedule runs only then)."""
        self._clock_synced = True

    def clock_trusted(self):
        return self._clock_synced

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
        try:
            if self._led is None:
                self._led = machine.PWM(machine.Pin(self.led_pin), freq=hz, duty_u16=duty)
            else:
                self._led.init(freq=hz, duty_u16=duty)
        except Exception:  # no channel or timer left (ValueError, RuntimeError, OSError by release)
            self.led_pin = None  # left as it is and not driven again: it is only a light

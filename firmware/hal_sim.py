"""Hardware abstraction for the unix port and the tests: no hardware, everything recorded.

Same methods as hal_board.HAL. Every PWM write is recorded as (ticks_us, pin, duty_ns)
(duty_ns 0 = deinit): in the list `pwm_writes`, or, when a trace path is given, appended to that
file as "<ticks_us> <pin> <duty_ns>\\n" so an integration test in another process can read the
servo trace. Never both: a device on the unix port runs for days, and an in-memory list would
grow with every write. The last frequency set per pin is in `pwm_freq`.

With virtual=True (the default, for tests) time is a counter: sleep_ms advances it at once,
so a 600 ms dwell costs nothing, and unix_time() is `start_unix` plus the virtual time
elapsed (tests move it with `advance_s`). With virtual=False (the device on the unix port)
it is the real clock and real sleep. Runs on CPython too, where time has no ticks_*.
"""

import gc
import time

# MicroPython's wrapping tick counter, or None on CPython (which only runs the sim virtually).
_real_ticks_us = getattr(time, "ticks_us", None)
_real_ticks_ms = getattr(time, "ticks_ms", None)
_real_ticks_diff = getattr(time, "ticks_diff", None)


def _now_us():
    if _real_ticks_us is not None:
        return _real_ticks_us()
    return int(time.monotonic() * 1000000)  # type: ignore[attr-defined]  # CPython; not in the MicroPython stubs


class SimPWM:
    def __init__(self, hal, pin):
        self._hal = hal
        self._pin = pin

    def freq(self, hz):
        self._hal.pwm_freq[self._pin] = hz

    def duty_ns(self, ns):
        self._hal.record_pwm(self._pin, ns)

    def deinit(self):
        self._hal.record_pwm(self._pin, 0)


class HAL:
    # The board's GPIOs (hal_board.HAL.PINS; tests/firmware/test_board_hal.py checks they are the same):
    # a config that runs here runs there.
    PINS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 21)
    NETWORK = None  # no Wi-Fi to join or clock to set: the host has both (hal_board's is board_network)

    def __init__(self, led_pin=None, trace_path=None, virtual=True, start_unix=1795730000, freeze_at_write=0,
                 clock_offset_s=0, button_path=None, clock_trusted=True, clock_path=None):
        """freeze_at_write > 0: before that PWM write (1 = the first), print "sim: frozen" and hang,
        so a test can SIGKILL the device at an exact point of a servo movement. clock_offset_s: added
        to the real Unix time (virtual=False), so a test can run the device an hour or a day later.
        button_path: the virtual button's level file (tools/sim_board.py writes it). clock_trusted:
        whether the clock counts as set by NTP (the host's is; a test starts untrusted and calls
        clock_synced()). clock_path: a file holding seconds added to the real Unix time (virtual=False),
        read at every unix_time(), so a test can move the running device's clock by days."""
        self.clock_offset_s = clock_offset_s
        self._clock_trusted = clock_trusted
        self.clock_path = clock_path
        self.led_pin = led_pin
        self.button_path = button_path
        self.freeze_at_write = freeze_at_write
        self.writes = 0
        self.trace_path = trace_path
        self.virtual = virtual
        self.start_unix = start_unix
        self._virtual_us = 0
        self.pwm_writes: list | None = [] if trace_path is None else None
        self.pwm_freq = {}
        self.led_state = None
        self.watchdog_timeout_ms = None
        self.watchdog_feeds = 0

    # -- PWM ---------------------------------------------------------------
    def pwm(self, pin):
        return SimPWM(self, pin)

    def record_pwm(self, pin, duty_ns):
        self.writes += 1
        if self.writes == self.freeze_at_write:
            print("sim: frozen before pwm write", self.writes, "pin", pin, "duty_ns", duty_ns)
            while True:
                time.sleep(1)
        at = self.ticks_us()
        if self.pwm_writes is not None:
            self.pwm_writes.append((at, pin, duty_ns))
        else:
            with open(self.trace_path, "a") as trace:
                trace.write("%d %d %d\n" % (at, pin, duty_ns))

    # -- time --------------------------------------------------------------
    def ticks_us(self):
        return self._virtual_us if self.virtual else _now_us()

    def ticks_ms(self):
        if self.virtual or _real_ticks_ms is None:
            return self.ticks_us() // 1000
        return _real_ticks_ms()  # its own period: ticks_us // 1000 would wrap at the wrong value

    def ticks_diff(self, a, b):
        if self.virtual or _real_ticks_diff is None:
            return a - b
        return _real_ticks_diff(a, b)  # real ticks wrap around

    def sleep_ms(self, ms):
        if self.virtual:
            self._virtual_us += ms * 1000
        else:
            time.sleep(ms / 1000)

    def advance_s(self, seconds):
        """Virtual time only: move the clock on, as if the device had been idle."""
        self._virtual_us += seconds * 1000000

    def unix_time(self):
        if self.virtual:
            return self.start_unix + self._virtual_us // 1000000
        offset = self.clock_offset_s
        if self.clock_path is not None:
            try:
                with open(self.clock_path) as f:
                    offset += int(f.read())
            except (OSError, ValueError):
                pass  # no file yet, or one being written: the clock as it was
        return int(time.time()) + offset

    def clock_synced(self):
        self._clock_trusted = True

    def clock_trusted(self):
        return self._clock_trusted

    # -- button --------------------------------------------------------------
    def button(self, pin, on_edge=None):
        """The button on GPIO pin (pull-up input); on_edge(pin) runs on every level change. Its class
        is imported only here, as on the board: a device without a button never loads it."""
        from sim_button import SimButton

        return SimButton(on_edge, self.button_path)

    # -- the rest of the board ---------------------------------------------
    def free_heap(self):
        mem_free = getattr(gc, "mem_free", None)
        return mem_free() if mem_free is not None else 0

    def watchdog_start(self, timeout_ms):
        self.watchdog_timeout_ms = timeout_ms

    def watchdog_feed(self):
        self.watchdog_feeds += 1

    def led(self, state):
        self.led_state = state

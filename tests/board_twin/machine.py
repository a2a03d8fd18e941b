"""Stand-in for the ESP32-C3's `machine` (the board twin: board_twin.py), on the unix port. Each
behaviour names the MicroPython source it follows (the tags are the mirror's: git show TAG:path).
On the unix port a `machine.py` on the path replaces the built-in one (machine is extensible)."""

import board_twin

# ports/esp32/machine_pin.h (CONFIG_IDF_TARGET_ESP32C3, 1.24-master): the C3's pin table. 14-17 are
# not in it; 18 and 19 only in images without USB Serial/JTAG, which the XIAO ESP32C3's console needs.
_PIN_TABLE = tuple(range(0, 14)) + (20, 21)
_LEDC_BITS = 14  # SOC_LEDC_TIMER_BIT_WIDTH on the C3
_DIV_MIN, _DIV_MAX = 256, 0x3FFFF  # the LEDC clock divider: 10 integer and 8 fractional bits


def unique_id():
    return b"unixport"


class Pin:
    # ports/esp32/machine_pin.c: the GPIO driver's values.
    IN = 1
    OUT = 3  # GPIO_MODE_INPUT_OUTPUT
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 1
    IRQ_RISING = 2

    def __init__(self, id, mode=None, pull=-1, value=None):
        # machine_pin.c, machine_pin_find: a GPIO outside the table is ValueError("invalid pin").
        if id not in _PIN_TABLE:
            raise ValueError("invalid pin")
        self.id = id
        if mode is not None:
            self.init(mode, pull, value=value)

    def init(self, mode, pull=-1, value=None):
        # machine_pin_obj_init_helper (1.24-master): esp_rom_gpio_pad_select_gpio and
        # gpio_set_direction make the pad a plain GPIO again, which also ends any LEDC routing.
        if mode == Pin.OUT:
            board_twin.pins[self.id] = ["out", 1 if value else 0]
        else:
            level = 1 if pull == Pin.PULL_UP else 0
            board_twin.pins[self.id] = ["in", level, None, 0, self]
        board_twin.publish()

    def value(self, *level):
        state = board_twin.pins[self.id]
        if level:
            if state[0] == "out":
                state[1] = 1 if level[0] else 0
                board_twin.publish()
            return None
        return state[1] if state[0] != "ledc" else 0

    def irq(self, handler=None, trigger=3, hard=False):
        # machine_pin.c, machine_pin_irq (1.24-master): the handler is always scheduled
        # (machine_pin_isr_handler -> mp_sched_schedule), so `hard` changes nothing on the ESP32.
        state = board_twin.pins[self.id]
        state[2], state[3] = handler, trigger


def _source_clock(freq):
    """(clock Hz, duty resolution bits) the LEDC timer gets for freq, by ports/esp32/machine_pwm.c."""
    if board_twin.version < (1, 25):
        # 1.24 set_freq: the C3 has SOC_LEDC_SUPPORT_XTAL_CLOCK, so LEDC_USE_XTAL_CLK (40 MHz); the
        # resolution is counted from APB_CLK_FREQ (80 MHz), at most HIGHEST_PWM_RES (14 on the C3).
        return 40000000, min(_log2((80000000 + freq // 2) // freq), _LEDC_BITS)
    bits = min(_log2((80000000 + freq // 2) // freq), _LEDC_BITS)  # ledc_find_suitable_duty_resolution
    if board_twin.version >= (1, 26) and bits >= _LEDC_BITS:
        bits -= 1  # 1.26+ find_suitable_duty_resolution: one bit less (the full-duty hardware bug)
    return 80000000, bits  # 1.25+: LEDC_USE_APB_CLK


def _log2(n):
    bits = 0
    while n > 1:
        n >>= 1
        bits += 1
    return bits


class PWM:
    """machine.PWM as ports/esp32/machine_pwm.c defines it; 1.24 and 1.25 share one design, 1.26
    (commit 150a5aa3a1, unchanged to master) another."""

    def __init__(self, dest, freq=-1, duty=-1, duty_u16=-1, duty_ns=-1):
        # make_new: 1.26+ self_reset() (timer = -1) before the init helper; 1.24/1.25 likewise
        # start inactive (active = false).
        self._pin = dest.id
        self._reset()
        self.init(freq, duty=duty, duty_u16=duty_u16, duty_ns=duty_ns)

    def _reset(self):
        self._channel = -1
        self._timer = -1
        self._freq = -1
        self._duty = None  # (scale, value): ("u16", 0..65536) or ("ns", ns), as duty_scale/duty_ui

    def _check_active(self):
        # pwm_is_active: 1.26+ timer < 0 -> "PWM is inactive"; 1.24/1.25 active == false -> "PWM inactive".
        if self._timer < 0:
            raise RuntimeError("PWM is inactive" if board_twin.version >= (1, 26) else "PWM inactive")

    def init(self, freq=-1, duty=-1, duty_u16=-1, duty_ns=-1):
        if board_twin.version >= (1, 26):
            self._init_126(freq, duty, duty_u16, duty_ns)
        else:
            self._init_124(freq, duty, duty_u16, duty_ns)

    def _init_126(self, freq, duty, duty_u16, duty_ns):
        # 1.26+ mp_machine_pwm_init_helper: the frequency's range, then the duty is checked before
        # a timer exists; check_duty_ns calls duty_to_ns -> pwm_is_active, so a new PWM given
        # duty_ns raises RuntimeError. check_duty_u16 has no such call.
        if freq != -1:
            _check_freq_range(freq)
        if duty_u16 >= 0:
            self._duty = ("u16", _check_u16(duty_u16))
        elif duty_ns >= 0:
            self._check_ns(duty_ns)
            self._duty = ("ns", duty_ns)
        elif duty >= 0:
            self._duty = ("u16", min(duty, 1023) << 6)
        elif self._duty is None:
            self._duty = ("u16", 32768)  # PWM_DUTY: 50 %
        channel = self._find_channel()
        if freq == -1:
            freq = self._freq if self._freq > 0 else 5000  # PWM_FREQ
        self._set_freq(freq, OSError)
        self._channel = channel
        self._apply()

    def _init_124(self, freq, duty, duty_u16, duty_ns):
        # 1.24/1.25 mp_machine_pwm_init_helper: channel, frequency (default 5 kHz), timer, set_freq,
        # then the duty given (or 50 % once), each through set_duty_* after the PWM is active.
        if (duty != -1) + (duty_u16 != -1) + (duty_ns != -1) > 1:
            raise ValueError("only one of parameters 'duty', 'duty_u16' or 'duty_ns' is allowed")
        channel = self._find_channel()
        if freq == -1:
            freq = self._freq if self._freq > 0 else 5000
        _check_freq_range(freq)
        self._channel = channel
        self._set_freq(freq, ValueError)
        if duty_u16 != -1:
            self.duty_u16(duty_u16)
        elif duty_ns != -1:
            self.duty_ns(duty_ns)
        elif duty != -1:
            self._duty = ("u16", min(duty, 1023) << 6)
            self._apply()
        elif self._duty is None:
            self._duty = ("u16", 32768)
            self._apply()
        else:
            self._apply()

    def _find_channel(self):
        # find_channel: the channel this pin has, else the lowest free one.
        free = -1
        for index, channel in enumerate(board_twin.channels):
            if channel is not None and channel[0] == self._pin:
                return index
            if channel is None and free < 0:
                free = index
        if free < 0:
            raise (RuntimeError if board_twin.version >= (1, 26) else ValueError)("out of PWM channels:6")
        return free

    def _set_freq(self, freq, unreachable):
        # set_freq: a timer with this frequency or a free one, configured by ledc_timer_config,
        # which refuses a clock divider outside 1..1023.99 (ESP_FAIL). 1.24/1.25 report that as
        # ValueError("unreachable frequency %d"); 1.26+ through check_esp_err, an OSError. 1.26+
        # also limits freq to half the source clock (check_freq_ranges).
        clock, bits = _source_clock(freq)
        divider = ((clock << 8) + (freq << bits) // 2) // (freq << bits)
        if not _DIV_MIN <= divider <= _DIV_MAX:
            if unreachable is ValueError:
                raise ValueError("unreachable frequency %d" % freq)
            raise OSError(1, "ESP_FAIL")
        timers = board_twin.timers
        mine = self._timer if self._timer >= 0 and self._timer_users() == 1 else -1
        if mine < 0:
            for index, timer in enumerate(timers):
                if timer is not None and timer[0] == freq:
                    mine = index
                    break
            else:
                mine = timers.index(None) if None in timers else -1
        if mine < 0:
            raise (RuntimeError if board_twin.version >= (1, 26) else ValueError)("out of PWM timers:4")
        timers[mine] = [freq, bits]
        self._timer = mine
        self._freq = freq

    def _timer_users(self):
        return sum(1 for channel in board_twin.channels if channel is not None and channel[1] == self._timer)

    def _check_ns(self, ns):
        limit = self._u16_to_ns(65536)  # duty_to_ns(MAX_16_DUTY): needs an active PWM
        if not 0 <= ns <= limit:
            raise ValueError("duty_ns must be from 0 to %d ns" % limit)

    def _u16_to_ns(self, duty):
        self._check_active()
        return (duty * 1000000000 + self._freq * 32768) // (self._freq * 65536)

    def _apply(self):
        # apply_duty / set_duty_*: the channel's duty at the timer's resolution; a new channel is
        # configured and the pin routed to it (ledc_channel_config, esp_rom_gpio_connect_out_signal).
        self._check_active()
        scale, value = self._duty
        if scale == "ns":
            value = min((value * 65536 * self._freq + 500000000) // 1000000000, 65536)
            if self._duty[1] > 0 and value == 0:
                value = 1
        bits = board_twin.timers[self._timer][1]
        channel_duty = value >> (16 - bits)
        high_ns = channel_duty * 1000000000 // (self._freq << bits)
        board_twin.channels[self._channel] = [self._pin, self._timer, high_ns]
        board_twin.pins[self._pin] = ["ledc", self._channel]
        board_twin.publish()

    def freq(self, value=None):
        self._check_active()
        if value is None:
            return self._freq
        _check_freq_range(value)
        if value != self._freq:
            self._set_freq(value, OSError if board_twin.version >= (1, 26) else ValueError)
            self._apply()

    def duty_u16(self, value=None):
        self._check_active()
        if value is None:
            return min(self._duty_u16(), 65535)
        self._duty = ("u16", _check_u16(value))
        self._apply()

    def duty_ns(self, value=None):
        if value is None:
            return self._u16_to_ns(self._duty_u16())
        self._check_ns(value)
        self._duty = ("ns", value)
        self._apply()

    def _duty_u16(self):
        scale, value = self._duty
        return value if scale == "u16" else min((value * 65536 * self._freq + 500000000) // 1000000000, 65536)

    def deinit(self):
        # pwm_deinit: the channel stops at its idle level (low) and is freed, its timer too when no
        # other channel uses it. 1.24/1.25 also detach the pin from the channel's signal
        # (esp_rom_gpio_connect_out_signal); 1.26+ do not, so the pin stays routed to the channel and
        # follows whatever PWM takes that channel next (until Pin.init makes it a GPIO again).
        if self._timer >= 0:
            if self._timer_users() <= 1:
                board_twin.timers[self._timer] = None
            board_twin.channels[self._channel] = None
            if board_twin.version < (1, 26):
                board_twin.pins[self._pin] = ["out", 0]
            board_twin.publish()
        self._reset()


def _check_freq_range(freq):
    if not 0 < freq <= 40000000:
        raise ValueError("frequency must be from 1Hz to 40MHz")


def _check_u16(value):
    # check_duty_u16 (1.26+) / set_duty_u16 (1.24/1.25): 0..65535, where 65535 means fully on.
    if not 0 <= value <= 65535:
        raise ValueError("duty_u16 must be from 0 to 65535")
    return 65536 if value == 65535 else value


class WDT:
    """extmod/machine_wdt.c with ports/esp32/machine_wdt.c (1.24-master): feed() is the only method
    (no deinit: the task watchdog cannot be stopped), and it survives a soft reset (see
    board_twin.soft_reset)."""

    def __init__(self, id=0, timeout=5000):
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        if board_twin.watchdog is None:
            board_twin.watchdog = [timeout, 0]
        else:
            board_twin.watchdog[0] = timeout  # esp_task_wdt_reconfigure: one watchdog, new timeout

    def feed(self):
        board_twin.watchdog[1] += 1


class RTC:
    """ports/esp32/machine_rtc.c: datetime((year, month, day, weekday, hours, minutes, seconds,
    subseconds))."""

    def datetime(self, *when):
        if when:
            board_twin.rtc = tuple(when[0])
            return None
        return board_twin.rtc

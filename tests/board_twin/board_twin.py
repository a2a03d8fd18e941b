"""The board twin: what the stand-ins of the ESP32 port's own modules (machine.py, network.py,
ntptime.py, flashbdev.py, twin_vfs.py in this folder) share, and which MicroPython release they
imitate. The firmware's board-only modules (hal_board, board_network, board_button, boot, flashfs)
run on the unix port against them; docs/board.md lists each board API call, the MicroPython source
that defines it and how the stand-in follows it.

A test picks the release with `use((1, 24))` (or (1, 25), (1, 26), ...; default DEFAULT), which also
resets the board: the LEDC channels and timers, the pins, the Wi-Fi driver, the watchdog, the RTC and
the NTP replies. The world around the board is set here too:
- `clock`: anything with ticks_ms() (a virtual hal_sim.HAL), for the Wi-Fi driver's timing; None:
  every attempt ends at once;
- `ap`: the access point (ssid and password, None: any is taken; up_at_ms: when it is in range;
  join_ms: how long an association that succeeds takes; fail_ms: how long one that fails takes,
  a scan included);
- `ntp_replies`: what the next NTP requests get, oldest first: bytes, or an exception to raise
  (a timeout); when empty, a full reply with `ntp_unix_time`;
- `flash`: the block device the board's `vfs` partition is (flashbdev.bdev), and `flash_at`: the
  host folder the twin's vfs mounts the board's "/" on (the unix port's own root stays).

Outputs a test reads: `trace` (every change of a pin's output, as (pin, output)), output(pin),
`watchdog` ([timeout_ms, feeds] once started), `rtc` (the datetime tuple ntptime set) and
`edge(pin, level)`, which moves an input pin and fires its IRQ as the ESP32 port does.

The default world is a board in range of its access point with NTP answering, which is what the
peer clients (bench/peers.py) and bench/module_heap.py need.
"""

DEFAULT = (1, 26)
VERSIONS = ((1, 24), (1, 25), (1, 26), (1, 27), (1, 28))
NTP_UNIX_TIME = 1795730000

version = DEFAULT
clock = None
ap = {}
ntp_replies = []
ntp_unix_time = NTP_UNIX_TIME
flash = None
flash_at = "/twin-flash"
trace = []
pins = {}  # pin -> ["out", level] | ["in", level, irq handler, trigger] | ["ledc", channel]
channels = []  # LEDC channel -> None (free) | [pin, timer, high_ns] (high_ns 0: stopped, idle low)
timers = []  # LEDC timer -> None (free) | [freq, resolution bits]
wlan = {}
watchdog = None
rtc = None


def use(release=DEFAULT, world_clock=None):
    """Imitate MicroPython `release` (major, minor) from a fresh power-on."""
    global version, clock, ntp_replies, ntp_unix_time, flash, watchdog, rtc, trace
    if release not in VERSIONS:
        raise ValueError("the twin imitates %r" % (VERSIONS,))
    version = release
    clock = world_clock
    ap.clear()
    ap.update(ssid=None, password=None, up_at_ms=0, join_ms=0, fail_ms=3000)
    ntp_replies = []
    ntp_unix_time = NTP_UNIX_TIME
    flash = None
    watchdog = None
    rtc = None
    pins.clear()
    trace = []
    soft_reset()
    wlan.clear()
    wlan.update(active=False, connected=False, reason=0, requested=False, attempt_ends=None, outcome=None,
                ssid=None, password=None)


def soft_reset():
    """Ctrl-D / mpremote's soft reset (ports/esp32/main.c, soft_reset_exit: 1.24-master): every PWM
    channel stopped (machine_pwm_deinit_all), and nothing else here; the task watchdog stays armed."""
    channels[:] = [None] * 6  # the C3's LEDC: 6 channels, 4 timers, low-speed mode only
    timers[:] = [None] * 4
    for pin, state in pins.items():
        if state[0] == "ledc":
            pins[pin] = ["out", 0]
    publish()


def now_ms():
    return clock.ticks_ms() if clock is not None else 0


def output(pin):
    """What the pin drives: ("pwm", freq, high_ns), ("level", 0 or 1), or None (input/unused)."""
    state = pins.get(pin)
    if state is None or state[0] == "in":
        return None
    if state[0] == "out":
        return ("level", state[1])
    channel = channels[state[1]]
    if channel is None or not channel[2]:
        return ("level", 0)  # stopped: ledc_stop's idle level, low
    return ("pwm", timers[channel[1]][0], channel[2])


_last = {}


def publish():
    """Append every pin whose output changed to `trace`."""
    for pin in pins:
        now = output(pin)
        if _last.get(pin, None) != now:
            _last[pin] = now
            trace.append((pin, now))


def pulses(pin):
    """The high times (ns) pin drove, in order: what a servo on it was told."""
    return [out[2] for at, out in trace if at == pin and out is not None and out[0] == "pwm"]


def edge(pin, level):
    """Drive an input pin to level; its IRQ runs as the ESP32 port runs every Pin.irq: scheduled
    (machine_pin.c, machine_pin_isr_handler -> mp_sched_schedule: soft, 1.24-master)."""
    import micropython

    state = pins[pin]
    if state[1] == level:
        return
    state[1] = level
    handler, trigger, pin_object = state[2], state[3], state[4]
    if handler is not None and trigger & (1 if level == 0 else 2):  # IRQ_FALLING = 1, IRQ_RISING = 2
        micropython.schedule(handler, pin_object)


def next_ntp_reply():
    if ntp_replies:
        reply = ntp_replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply
    return ntp_reply(ntp_unix_time)


def ntp_reply(unix_time):
    """A 48-byte NTP reply whose transmit timestamp (bytes 40..43) is unix_time."""
    import struct

    reply = bytearray(48)
    reply[0] = 0x24  # leap 0, version 4, server
    reply[40:44] = struct.pack("!I", (unix_time + 2208988800) & 0xFFFFFFFF)
    return bytes(reply)


use()

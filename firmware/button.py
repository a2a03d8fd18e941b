"""The button: (time, level) samples of one GPIO in, `SINGLE`, `DOUBLE` or `LONG` out.

The pin has its pull-up on and the button connects it to GND, so level 0 is pressed.
`Classifier.sample(now_ms, level)` is pure bookkeeping on the times it is given (no clock, no
pin), so the tests drive it with a virtual clock and scripted edges; it returns the gesture it
completes, or None. The caller samples whenever the pin may have changed (a pin IRQ sets a
flag) and again within `wait_ms(now)` while a gesture is in progress, because some gestures
complete with no edge at all (a held press reaching the long threshold, a window running out).

Gestures, on debounced levels:
- a level counts only once it has been steady for `debounce_ms` (bounce and glitches shorter
  than that are ignored), from the edge after which it stayed steady: a press is timed from
  that edge, so debouncing does not lengthen the long threshold or shorten the window;
- press held for `long_ms` → `LONG` at once, while still held; its release ends the gesture;
- press and release, then no second press within `double_ms` of the release → `SINGLE`;
- a second press within `double_ms` of the first release → `DOUBLE` as soon as that second
  press is steady (no waiting for its release); a third press starts a new gesture, so a
  triple press is `DOUBLE` then `SINGLE`.

Times are ticks in ms; `ticks_diff` (time.ticks_diff on the board, where ticks wrap) compares
them. config.py validates the `button` section of config.json.
"""

PRESSED = 0
RELEASED = 1

SINGLE = "SINGLE"
DOUBLE = "DOUBLE"
LONG = "LONG"

# Gesture states, on the debounced level.
IDLE = 0
FIRST_DOWN = 1  # first press held, not yet long
WINDOW = 2  # first press released, waiting up to double_ms for a second
HELD = 3  # gesture already reported (LONG or DOUBLE); waiting for the release


def _subtract(a, b):
    return a - b


class Classifier:
    def __init__(self, debounce_ms=30, double_ms=400, long_ms=1000, ticks_diff=_subtract):
        self.debounce_ms = debounce_ms
        self.double_ms = double_ms
        self.long_ms = long_ms
        self._diff = ticks_diff
        self.level = RELEASED  # debounced
        self._raw = RELEASED
        self._raw_since = 0
        self.state = IDLE
        self._since = 0  # when the current state's timer started: press or release time

    @property
    def busy(self):
        """A gesture (or a bounce) is in progress: sample again within wait_ms."""
        return self.state != IDLE or self._raw != self.level

    def sample(self, now_ms, level):
        """Feed the pin's level at now_ms; returns SINGLE, DOUBLE, LONG or None."""
        done = None
        if self._raw != self.level and self._diff(now_ms, self._raw_since) >= self.debounce_ms:
            # The pending level was steady long enough (up to now, or up to this new edge). Catch
            # up with the time before its edge first: the caller may have sampled late.
            done = self._on_time(self._raw_since)
            self.level = self._raw
            done = self._on_level(self._raw_since) or done
        if level != self._raw:
            self._raw = level
            self._raw_since = now_ms
        if done is not None:
            return done  # anything else due is still due: busy, and wait_ms(now) is 0
        return self._on_time(now_ms)

    def wait_ms(self, now_ms):
        """How long the caller may wait before the next sample matters; -1 when idle."""
        if self._raw != self.level:
            return max(0, self.debounce_ms - self._diff(now_ms, self._raw_since))
        if self.state == FIRST_DOWN:
            return max(0, self.long_ms - self._diff(now_ms, self._since))
        if self.state == WINDOW:  # SINGLE once the window is over, i.e. 1 ms after it
            return max(0, self.double_ms + 1 - self._diff(now_ms, self._since))
        return -1

    def _on_level(self, edge_ms):
        """A debounced change that started at edge_ms."""
        state = self.state
        if self.level == PRESSED:
            if state == IDLE:
                self.state, self._since = FIRST_DOWN, edge_ms
            elif state == WINDOW:
                self.state = HELD
                return DOUBLE
            return None
        if state == FIRST_DOWN:
            self.state, self._since = WINDOW, edge_ms
        elif state == HELD:
            self.state = IDLE
        return None

    def _on_time(self, now_ms):
        elapsed = self._diff(now_ms, self._since)
        if self.state == FIRST_DOWN and elapsed >= self.long_ms:
            self.state = HELD
            return LONG
        if self.state == WINDOW and elapsed > self.double_ms:
            self.state = IDLE
            return SINGLE
        return None

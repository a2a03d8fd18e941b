"""The board's own button in the device: pin, classifier, the flash queue of presses, local-first feeding.

`Presses(settings, thing, hal, storage_dir, capacity, feeder=None, log=print)`; the main loop calls:
- `service(now_ms)` every iteration: when the IRQ recorded edges (the first and the last since the
  last look, with their times, so a release and a new press made while a dispense blocked the loop
  both count) or a gesture is in progress, feeds them and the level now to the classifier, and
  turns a completed gesture into a press;
- `wait_ms(now_ms)`: how long the loop may block in poll. A pending IRQ cannot end a poll early
  (MicroPython runs the handler between bytecodes, and the poll waits on the socket only), so with a
  button the loop never blocks longer than IDLE_POLL_MS, and during a gesture only until the
  classifier's next deadline;
- `drain(send)` while connected, and `in_flight.acked(pid)` for every PUBACK (`in_flight.clear()`
  after a reconnect): queued presses go out oldest first on cat-feeder/<thing>/button at QoS 1
  and leave the queue only when acknowledged.

A press, in this order:
1. `at` = the device's Unix time; the press is put in its flash queue (an Outbox in
   `presses/outbox/`), durably, which gives it its `seq`: the queue's counter persists and never
   goes back, so a seq is never reused across reboots, and a press made offline is delivered
   after the reconnect;
2. its id is `press.press_id(thing, event, at, seq)`, the function the cloud uses;
3. on a feeder with `button.local_first` (default), the feeder handles the command the cloud will
   send for this press, at once: the journal records the id before a servo moves, so when the
   cloud's command for the same id arrives it is answered `duplicate`, and nothing is fed twice.
   Without local_first the press only feeds when the cloud's command comes back; so does a press
   made while connected with the outbox full of results (the app's flow control: a result is never
   dropped while connected).
"""

import button
import press
from outbox import InFlight, Outbox
from smallfiles import make_dir

IDLE_POLL_MS = 50
QUEUE_DIR = "/presses"


class Presses:
    def __init__(self, settings, thing, hal, storage_dir, capacity, feeder=None, log=print, room=None):
        """room() -> False when the feeder's result could not be queued now (the app's flow control:
        connected with a full outbox); the press then only queues, and the cloud's command feeds later."""
        self.thing = thing
        self.topic = "cat-feeder/%s/button" % thing
        self.hal = hal
        self.feeder = feeder if settings["local_first"] else None
        self.log = log
        self.room = room
        self.classifier = button.Classifier(
            settings["debounce_ms"], settings["double_ms"], settings["long_ms"], hal.ticks_diff
        )
        directory = storage_dir + QUEUE_DIR
        make_dir(directory)
        self.queue = Outbox(directory, capacity)
        self.in_flight = InFlight(self.queue)
        # The first and the last edge since the loop last looked (the IRQ records them, also while the
        # loop is blocked in a dispense): a release and a new press made meanwhile both count.
        self.edged = False  # a button held through boot counts only once released and pressed again
        self._first_ms = self._last_ms = 0
        self._first_level = self._last_level = button.RELEASED
        self.pin = hal.button(settings["pin"], self._on_edge)

    def _on_edge(self, pin):
        # A soft IRQ (it runs between bytecodes, also during the servo waits): note the edge, no more.
        now, level = self.hal.ticks_ms(), pin.value()
        if not self.edged:
            self._first_ms, self._first_level = now, level
        self._last_ms, self._last_level = now, level
        self.edged = True

    def service(self, now_ms):
        """Sample the button (its recorded edges, then its level now); returns the last gesture completed."""
        self.pin.poll()
        if not (self.edged or self.classifier.busy):
            return None
        # Cleared before the edges are read: an IRQ in between is seen now and again next time, which
        # is harmless (the same level at the same time is no change).
        edged, self.edged = self.edged, False
        found = None
        if edged:
            found = self._sample(self._first_ms, self._first_level) or found
            found = self._sample(self._last_ms, self._last_level) or found
        return self._sample(now_ms, self.pin.value()) or found

    def _sample(self, at_ms, level):
        gesture = self.classifier.sample(at_ms, level)
        if gesture is not None:
            self.pressed(gesture)
        return gesture

    def wait_ms(self, now_ms):
        wait = self.classifier.wait_ms(now_ms)
        return IDLE_POLL_MS if wait < 0 or wait > IDLE_POLL_MS else wait

    def pressed(self, event):
        """Queue one press (durable), then feed at once on a local-first feeder; returns the press id."""
        at = self.hal.unix_time()
        seq = self.queue.put(press.store(event, at))
        press_id = press.press_id(self.thing, event, at, seq)
        self.log("button:", event, press_id)
        if self.feeder is not None and (self.room is None or self.room()):
            self.feeder.handle(press.command(press_id, event, at))
        return press_id

    def drain(self, send):
        """Send the queued presses not in flight; send(topic, payload, qos) -> pid (< 0: link dropped)."""
        in_flight = len(self.in_flight)
        index = 0
        for seq, stored in self.queue.items():
            index += 1
            if index <= in_flight:
                continue
            event, at = press.stored_event_at(stored)
            pid = send(self.topic, press.press_message(event, at, seq), 1)
            if pid < 0:
                return
            self.in_flight.sent(pid, seq)

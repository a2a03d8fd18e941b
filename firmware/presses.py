"""The board's own button in the device: pin, classifier, the flash queue of presses, local-first feeding.

`Presses(settings, thing, hal, storage_dir, capacity, feeder=None, log=print)`; the main loop calls:
- `service(now_ms)` every iteration: samples the pin when its IRQ flagged an edge or a gesture is in
  progress, and turns a completed gesture into a press;
- `wait_ms(now_ms)`: how long the loop may block in poll. A pending IRQ cannot end a poll early
  (MicroPython runs the handler between bytecodes, and the poll waits on the socket only), so with a
  button the loop never blocks longer than IDLE_POLL_MS, and during a gesture only until the
  classifier's next deadline;
- `drain(send)` while connected, and `in_flight.acked(pid)` for every PUBACK (`in_flight.clear()`
  after a reconnect): queued presses go out oldest first on cat-feeder/<thing>/button at QoS 1
  and leave the queue only when acknowledged.

A press, in this order:
1. `at` = the device's Unix time; the press is put in its flash queue (`presses/outbox.log`), durably,
   which gives it its `seq`: the queue's counter persists and never goes back, so a seq is never
   reused across reboots, and a press made offline is delivered after the reconnect;
2. its id is `press.press_id(thing, event, at, seq)`, the function the cloud uses;
3. on a feeder with `button.local_first` (default), the feeder handles the command the cloud will
   send for this press, at once: the journal records the id before a servo moves, so when the
   cloud's command for the same id arrives it is answered `duplicate`, and nothing is fed twice.
   Without local_first the press only feeds when the cloud's command comes back.
"""

import os

import button
import press
from outbox import InFlight, Outbox

IDLE_POLL_MS = 50
QUEUE_DIR = "/presses"


class Presses:
    def __init__(self, settings, thing, hal, storage_dir, capacity, feeder=None, log=print):
        self.thing = thing
        self.topic = "cat-feeder/%s/button" % thing
        self.hal = hal
        self.feeder = feeder if settings["local_first"] else None
        self.log = log
        self.classifier = button.Classifier(
            settings["debounce_ms"], settings["double_ms"], settings["long_ms"], hal.ticks_diff
        )
        directory = storage_dir + QUEUE_DIR
        _make_dir(directory)
        self.queue = Outbox(directory, capacity)
        self.in_flight = InFlight(self.queue)
        self.edged = True  # sample once at start: the button may be held through boot
        self.pin = hal.button(settings["pin"], self._on_edge)

    def _on_edge(self, pin):
        self.edged = True  # IRQ context: a flag, nothing else

    def service(self, now_ms):
        self.pin.poll()
        if not (self.edged or self.classifier.busy):
            return None
        self.edged = False
        gesture = self.classifier.sample(now_ms, self.pin.value())
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
        if self.feeder is not None:
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


def _make_dir(path):
    try:
        os.mkdir(path)
    except OSError:
        pass  # exists already

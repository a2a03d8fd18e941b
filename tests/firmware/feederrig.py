"""The device rig shared by the feeder tests: real Journal and Outbox on a temp dir, sim HAL, real servos.

boot() starts the device again on the same storage, as after a power cut; results() renders
the outbox as the cloud will see it; pins_moved() is the servo trace.
"""

import gc
import json

import bootonly
from fwtest import remove_tree, tmpdir


def _load(name):
    """Import a firmware module, then collect its compile garbage at once.

    The 64K MicroPython test heap fragments when each module compiles on top of the previous
    one's leftovers; collecting in between leaves room for the firmware plus a test module.
    """
    module = __import__(name)
    gc.collect()
    return module


Journal = _load("journal").Journal
Outbox = _load("outbox").Outbox
messages = _load("messages")
feeder = _load("feeder")
hal_sim = _load("hal_sim")
servo = _load("servo")
Cap = _load("cap").Cap

NOW = 1795730000
HORIZON_S = 86400  # the journal's horizon as app.py sets it: the cap's day
LEFT_PIN = 3
RIGHT_PIN = 4
SERVO = {"min_us": 500, "max_us": 2500, "rest_deg": 0, "dispense_deg": 90, "dwell_ms": 600}
# What config.validate makes of the example's commands and servos (a literal: the 64K test heap is tight).
CONFIG = {
    "commands": {"default_ttl_s": 300, "max_ttl_s": 3600},
    "feeding": {"max_portions_per_hour": 4, "max_portions_per_day": 12},
    "servos": {"left": dict(SERVO, pin=LEFT_PIN), "right": dict(SERVO, pin=RIGHT_PIN)},
}


def payload(command_id="press-7f3a9c2e", event="SINGLE", issued_at=NOW, ttl=None):
    fields = '"v": 1, "id": "%s", "event": "%s", "issued_at": %d' % (command_id, event, issued_at)
    if ttl is not None:
        fields += ', "ttl": %d' % ttl
    return ("{" + fields + "}").encode()


class Rig:
    def __init__(self, journal_class=Journal, max_entries=256, per_hour=4, per_day=12, hal=None,
                 outbox_capacity=64):
        self.directory = tmpdir()
        self.journal_class = journal_class
        self.max_entries = max_entries
        self.per_hour = per_hour
        self.per_day = per_day
        self.outbox_capacity = outbox_capacity
        self.hal = hal or hal_sim.HAL(start_unix=NOW)
        self.journal = self.outbox = None
        self.boot()

    def boot(self):
        # Let the old journal's arrays go first: the 64K test heap needs the room back in one piece.
        self.journal = self.outbox = self.cap = self.feeder = None
        gc.collect()
        self.journal = self.journal_class(self.directory, HORIZON_S, self.max_entries)
        self.outbox = Outbox(self.directory, self.outbox_capacity)
        # What startup.dispenser_from_config builds for CONFIG (without importing startup: the 64K test heap).
        left, right = servo.Servo(self.hal, LEFT_PIN, **SERVO), servo.Servo(self.hal, RIGHT_PIN, **SERVO)
        self.dispenser = servo.Dispenser(self.hal, left, right)
        self.cap = Cap(self.journal, self.per_hour, self.per_day)
        self.feeder = feeder.Feeder(CONFIG, self.journal, self.outbox, self.dispenser, self.hal, self.cap)

    def recover(self):
        """What App does after the journal and outbox are open: report the interrupted commands."""
        bootonly.call("restore", "report_interrupted", self.journal, self.outbox, self.hal)

    def results(self):
        return [json.loads(messages.render("cat-feeder", seq, packed)) for seq, packed in self.outbox.items()]

    def decide(self, body):
        """Handle one payload and return its result as the cloud sees it, taken out of the outbox
        (long runs would otherwise fill the 64K test heap with queued results)."""
        self.feeder.handle(body)
        seq, packed = self.outbox.at(self.outbox.depth - 1)
        self.outbox.ack(seq)
        return json.loads(messages.render("cat-feeder", seq, packed))

    def pins_moved(self):
        return [pin for _t, pin, _duty in self.hal.pwm_writes]

    def close(self):
        remove_tree(self.directory)


def strip_seq(results):
    for result in results:
        del result["seq"]
    return results

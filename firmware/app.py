"""The main loop: config, HAL, Journal, Outbox, Cap, Feeder, Dispenser and Link wired together.

`boot(hal_factory, config_path, pins)` is the whole device, on the board (main.py, hal_board) and
on the unix port (main_unix.py, hal_sim): startup.py loads the config, drives every gate to rest (a
crash or power cut may have left one open), starts the watchdog, joins Wi-Fi (when configured) and
syncs the clock before TLS (certificate dates), and is released; then `App(config, hal,
dispenser).run()`.

One loop iteration: feed the watchdog, let the link connect when its backoff allows, send the
queued results, send telemetry and prune the journal when due, then block in `link.poll(timeout)`
until input arrives or the next deadline (ping, telemetry, prune, backoff). The link hands over at
most one command per poll, so each command's result is sent before the next command is read,
and a command is answered as soon as it arrives, never on a fixed poll interval.

Commands are decided inside the link's on_message callback (`Feeder.handle`), before the link
sends the PUBACK: the id is in the journal before the broker forgets the message, so a crash
there only causes a redelivery, which the journal answers `duplicate`. The callback never sends
(results wait in the outbox).

Results are pipelined: the loop sends queued results oldest first without waiting for their
PUBACKs (at most MAX_IN_FLIGHT at once) and removes each from the outbox only when its own PUBACK
arrives. A result re-sent after a reconnect keeps its seq, because the outbox assigned it once.

Flow control: while connected a result is never dropped. A command is only taken when the
outbox has room for its result; otherwise it is left unacknowledged at the broker, which keeps
it (and stops sending more once its in-flight window is full). Once one is left, every later one
is left too (order is kept), and when every sent result has been acknowledged the link resyncs
(DISCONNECT, connect again at once) so that the broker delivers them again. The outbox drops its
oldest result only when results pile up while offline beyond its capacity.

Bad input never reaches the loop as an exception (Feeder.handle never raises); anything else
unexpected is caught per iteration, logged, and the loop goes on after a short pause. The
watchdog is fed every iteration, before each servo move, for each result sent and before each
connect attempt, so no backlog of any size resets the board; a truly hung loop does.
"""

import bootonly

# The dispenser's module is imported here so that it stays loaded: startup.py builds the Dispenser
# inside a boot-only call, which would otherwise drop servo from sys.modules while its code lives on.
import servo  # noqa: F401
from cap import DAY_S, Cap
from feeder import Feeder
from journal import Journal
from link import Link
from messages import render
from outbox import InFlight, Outbox
from smallfiles import make_dir

# The loop wakes at least this often even with nothing due, to feed the watchdog.
MAX_WAIT_MS = 5000
PRUNE_INTERVAL_MS = 60000
ERROR_PAUSE_MS = 1000
# Results sent and not yet acknowledged. A result's PUBACK reaches the device only after the
# commands the broker sent before it (its in-flight window: 20 on mosquitto, 100 on AWS IoT), one
# dispense each, so a smaller limit would hold results back during a backlog. AWS IoT accepts up
# to 100 unacknowledged messages from a client.
MAX_IN_FLIGHT = 100
# The largest message the link holds: a schedule shadow's get/accepted document (desired, reported,
# delta and metadata of 8 slots: ~3 KB on AWS IoT). The feeder refuses a command over
# command.MAX_PAYLOAD itself.
MAX_BODY = 4096


class App:
    def __init__(self, config, hal, dispenser, fixed_poll_ms=0, log=print, schedule_check_ms=None):
        """dispenser: the servos (boot() parks them first; None on a button board). fixed_poll_ms > 0
        checks for input only every fixed_poll_ms, as the seed's device did (a benchmark baseline,
        never on the board). schedule_check_ms: the schedule's longest wait (None: schedule.py's; shorter
        only on the unix port, for tests that move its clock)."""
        self.hal = hal
        self.log = log
        self.thing = config["thing"]
        mqtt = config["mqtt"]
        self.action_topic = mqtt["action_topic"].encode()
        self.states_topic = mqtt["states_topic"]
        storage = config["storage"]["dir"]
        make_dir(storage)
        capacity = config["storage"]["outbox_capacity"]
        self.outbox = Outbox(storage, capacity)
        # A button board (role `button`) has no servos: no journal, feeder, results or status; its IoT
        # policy lets it publish its presses and nothing else.
        self.feeder = self.journal = self.cap = self.schedule = self.shadow = self.jobs = None
        if config["role"] == "feeder":
            # The journal keeps a day: the feeding cap counts from it (proofs in journal.py).
            self.journal = Journal(storage, DAY_S)
            feeding = config["feeding"]
            self.cap = Cap(self.journal, feeding["max_portions_per_hour"], feeding["max_portions_per_day"])
            self.feeder = Feeder(config, self.journal, self.outbox, dispenser, hal, self.cap)
            # Commands a power cut interrupted: reported once (restore.py, released afterwards).
            bootonly.call("restore", "report_interrupted", self.journal, self.outbox, hal)
            self.journal.prune(hal.unix_time())
            # Imported only on a feeder, after the journal and outbox were read back (restore.py needs
            # its room first). After report_interrupted: an occurrence cut short is in the journal.
            from schedule import Schedule
            from shadow import Shadow

            self.schedule = Schedule(storage, hal, self.feeder, self.outbox, schedule_check_ms)
            bootonly.call("restore", "load_schedule", self.schedule)
            self.shadow = Shadow(mqtt["shadow_topic"], self.schedule, hal, log)
            from otajob import Jobs  # updates over the air (otajob.py)

            self.jobs = Jobs(self.thing, mqtt, config["ota"].get("release_key"), hal, log)
        self.presses = None
        if config["button"] is not None:
            from presses import Presses  # only with a button: a feeder without one spends no heap on it

            self.presses = Presses(config["button"], self.thing, hal, storage, capacity, self.feeder, log,
                                   self._room_for_a_result)
        self.in_flight = InFlight(self.outbox)  # results sent, not yet acknowledged
        will = None
        if self.feeder is not None:
            will = (self.states_topic, bootonly.call("reports", "status_message", self.thing, "offline"))
        subscriptions = ()  # type: tuple
        if self.shadow is not None and self.jobs is not None:
            subscriptions = (mqtt["action_topic"],) + bootonly.call("schedule_doc", "subscriptions",
                                                                    mqtt["shadow_topic"])
            subscriptions += self.jobs.subscriptions()
        self.link = Link(mqtt, self.thing, self._on_message, hal, will=will, on_connect=self._on_connect,
                         on_ack=self._on_ack, max_body=MAX_BODY, subscriptions=subscriptions)
        self.fixed_poll_ms = fixed_poll_ms
        self.telemetry_ms = config["telemetry_interval_s"] * 1000
        # Pruning keeps the journal's file small; the cap's proof needs none (begin() makes room).
        self.prune_ms = PRUNE_INTERVAL_MS
        now = hal.ticks_ms()
        self.started_ms = now
        self.last_telemetry_ms = now
        self.last_prune_ms = now
        self.was_connected = False
        self.reported_failures = 0
        # An update on trial this boot (otaboot.py): confirmed once connected and subscribed, or the
        # board restarts after ota.trial_s, and boot.py counts one more of its boots.
        self.trial = bootonly.call("otaboot", "on_trial", ".")
        self.trial_ms = config["ota"]["trial_s"] * 1000

    def _on_message(self, topic, payload):
        # Runs inside link.poll before the PUBACK; decides and queues, never sends.
        if self.feeder is None or self.shadow is None or self.jobs is None:
            return True  # not ours to act on: acknowledged and ignored
        if topic != self.action_topic:
            if not self.jobs.on_message(topic, payload):
                self.shadow.on_message(topic, payload)
            return True  # a job, a shadow document, or not ours: acknowledged
        if self.link.deferred or not self._outbox_has_room():
            return False  # no room for its result: the broker keeps it until the resync
        self.feeder.handle(payload)
        return True

    def _outbox_has_room(self):
        return self.outbox.depth < self.outbox.capacity

    def _room_for_a_result(self):
        # Offline the outbox drops its oldest result to make room; connected, it never drops one.
        return not self.link.connected or self._outbox_has_room()

    def _on_connect(self):
        # The last session's sends are void: unacknowledged messages go out again.
        self.in_flight.clear()
        if self.presses is not None:
            self.presses.in_flight.clear()
        if self.feeder is not None:
            online = bootonly.call("reports", "status_message", self.thing, "online", self.hal.unix_time())
            self.link.send(self.states_topic, online, 1, retain=True)
            if self.shadow is not None:
                self.shadow.on_connect()
            if self.jobs is not None:
                self.jobs.on_connect()

    def _on_ack(self, pid):
        if not self.in_flight.acked(pid) and self.presses is not None:
            self.presses.in_flight.acked(pid)

    def run(self):
        while True:
            self.hal.watchdog_feed()
            if self.trial is not None:
                self._end_an_overdue_trial()
            try:
                self.step()
            except Exception as exc:  # MemoryError included: log it and keep serving
                self.log("app: error", repr(exc))
                self.hal.sleep_ms(ERROR_PAUSE_MS)

    def _end_an_overdue_trial(self):
        """An update on trial not connected within ota.trial_s ends the loop: SystemExit ends main.py
        and the ESP32 soft-resets (ports/esp32/main.c), so boot.py runs again and counts the boot
        (otaboot.py); the watchdog keeps running through it."""
        if self.hal.ticks_diff(self.hal.ticks_ms(), self.started_ms) >= self.trial_ms:
            self.log("ota: %s not connected within %d s: restarting" % (self.trial, self.trial_ms // 1000))
            raise SystemExit

    def step(self):
        hal = self.hal
        link = self.link
        if self.presses is not None:
            self.presses.service(hal.ticks_ms())  # first: a local-first press feeds before anything else
        if self.schedule is not None:
            self.schedule.poll(hal.ticks_ms())  # a ticks comparison until an occurrence is due
        link.step(hal.ticks_ms())
        self._report_connection()
        if link.connected:
            self._drain()
            if self.shadow is not None:
                self.shadow.send(link)
            if self.presses is not None:
                self.presses.drain(link.send)
        if self.jobs is not None:
            self.jobs.step(link, hal.ticks_ms())  # one chunk of an update's download, its reports
            if link.deferred and len(self.in_flight) == 0:
                self.log("app: resync", link.deferred, "commands left at the broker")
                link.resync()
        now = hal.ticks_ms()
        if self.journal is not None and hal.ticks_diff(now, self.last_prune_ms) >= self.prune_ms:
            self.last_prune_ms = now
            self.journal.prune(hal.unix_time())
        if link.connected and hal.ticks_diff(now, self.last_telemetry_ms) >= self.telemetry_ms:
            self.last_telemetry_ms = now
            self._telemetry(now)
        self._report_connection()
        if self.fixed_poll_ms:
            hal.sleep_ms(self.fixed_poll_ms)
            link.poll(0)
        else:
            link.poll(self._wait_ms(now))

    def _drain(self):
        """Send queued results oldest first, without waiting for PUBACKs (at most MAX_IN_FLIGHT)."""
        outbox = self.outbox
        # In-flight results are the outbox's oldest: nothing is dropped while connected.
        i = len(self.in_flight)
        while i < outbox.depth and i < MAX_IN_FLIGHT:
            seq, packed = outbox.at(i)
            pid = self.link.send(self.states_topic, render(self.thing, seq, packed), 1)
            if pid < 0:
                return  # link dropped; the same seq is sent again after the reconnect
            self.in_flight.sent(pid, seq)
            self.hal.watchdog_feed()
            i += 1

    def _telemetry(self, now):
        hal = self.hal
        cap = self.cap
        if cap is None:
            return  # a button board publishes its presses only
        uptime_s = hal.ticks_diff(now, self.started_ms) // 1000
        unix_now = hal.unix_time()
        cap.count(unix_now)
        message = bootonly.call("reports", "telemetry_message", self.thing, uptime_s, hal.free_heap(),
                                self.outbox.depth, self.outbox.dropped, unix_now, self.link, cap)
        self.link.send(self.states_topic, message, 0)

    def _wait_ms(self, now):
        """How long poll may block: until the next telemetry or prune deadline, at most MAX_WAIT_MS."""
        diff = self.hal.ticks_diff
        wait = min(MAX_WAIT_MS, self.prune_ms - diff(now, self.last_prune_ms))
        if self.link.connected:
            wait = min(wait, self.telemetry_ms - diff(now, self.last_telemetry_ms))
        if self.presses is not None:
            wait = min(wait, self.presses.wait_ms(now))
        if self.schedule is not None:
            wait = min(wait, self.schedule.wait_ms(now))
        if self.jobs is not None:
            wait = self.jobs.wait_ms(wait)
        return max(0, wait)

    def _report_connection(self):
        link = self.link
        if link.connect_failures != self.reported_failures:
            self.reported_failures = link.connect_failures
            self.log("app: connect failed", link.connect_failures, link.last_error)
        if link.connected == self.was_connected:
            return
        self.was_connected = link.connected
        if link.connected:
            self.hal.led("online")
            self.log("app: up", link.connects, "outbox", self.outbox.depth)
            if self.trial is not None:
                bootonly.call("otaboot", "confirm", ".")
                self.log("ota: %s confirmed: connected and subscribed" % self.trial)
                self.trial = None
        else:
            self.hal.led("offline")
            self.log("app: down", link.last_error)


def boot(hal_factory, config_path, pins, servo_hal=None, log=print, **app_options):
    """The device from power-on: startup.prepare (config, gates to rest, watchdog, Wi-Fi, clock; then
    released), then the main loop (never returns). pins: the HAL's PINS, for the config's pin
    numbers. servo_hal: the HAL the servos use (default: the board's)."""
    prepared = bootonly.call("startup", "prepare", hal_factory, config_path, pins, servo_hal, log)
    config, hal, dispenser = prepared
    App(config, hal, dispenser, log=log, **app_options).run()

"""The main loop: config, HAL, Journal, Outbox, Feeder, Dispenser and Link wired together.

`boot(hal_factory, config_path)` is the whole device, on the board (main.py, hal_board) and on
the unix port (main_unix.py, hal_sim): load the config, start the watchdog, join Wi-Fi (when
configured) and sync the clock before TLS (certificate dates), then `App(config, hal).run()`.

One loop iteration: feed the watchdog, let the link connect when its backoff allows, drain the
outbox while connected, send telemetry and prune the journal when due, then block in
`link.poll(timeout)` until input arrives or the next deadline (ping, telemetry, prune, backoff).
So a command is answered as soon as it arrives, never on a fixed poll interval.

Commands are decided inside the link's on_message callback (`Feeder.handle`), which umqtt calls
BEFORE it sends the PUBACK: the id is in the journal before the broker forgets the message, so a
crash there only causes a redelivery, which the journal refuses as `duplicate`. The callback never
publishes (umqtt is not re-entrant); results wait in the outbox, which the loop drains in seq
order, removing each only after its PUBACK. A result re-sent after a reconnect keeps its seq,
because the outbox assigned it once, when the result was queued.

Bad input never reaches the loop as an exception (Feeder.handle never raises); anything else
unexpected is caught per iteration, logged, and the loop goes on after a short pause. On the
board a truly hung loop stops feeding the watchdog, which resets the device.
"""

import os

import config as config_module
from feeder import Feeder
from journal import Journal
from link import Link
from messages import render, telemetry_message
from outbox import Outbox
from servo import Dispenser

# Longer than the slowest blocking step: one connect attempt is up to five socket operations
# of mqtt.timeout_ms (10 s by default) each, and a dispense can dwell up to 10 s.
WATCHDOG_MS = 60000
# The loop wakes at least this often even with nothing due, to feed the watchdog.
MAX_WAIT_MS = 5000
PRUNE_INTERVAL_MS = 60000
ERROR_PAUSE_MS = 1000
WIFI_RETRY_PAUSE_MS = 2000
NTP_RETRY_PAUSE_MS = 2000


def make_dir(path):
    try:
        os.mkdir(path)
    except OSError:
        pass  # exists already; a real failure shows up when the journal opens its file


class App:
    def __init__(self, config, hal, servo_hal=None, fixed_poll_ms=0, log=print):
        """servo_hal: the HAL the servos use (default hal). fixed_poll_ms > 0 checks for input
        only every fixed_poll_ms, as the seed's device did (a benchmark baseline, never on the board)."""
        self.hal = hal
        self.log = log
        self.thing = config["thing"]
        mqtt = config["mqtt"]
        self.action_topic = mqtt["action_topic"].encode()
        self.states_topic = mqtt["states_topic"]
        storage = config["storage"]["dir"]
        make_dir(storage)
        max_ttl_s = config["commands"]["max_ttl_s"]
        self.journal = Journal(storage, max_ttl_s)
        self.outbox = Outbox(storage, config["storage"]["outbox_capacity"])
        dispenser = Dispenser.from_config(servo_hal or hal, config["servos"])
        self.feeder = Feeder(config, self.journal, self.outbox, dispenser, hal)
        self.feeder.recover()
        self.journal.prune(hal.unix_time())
        self.link = Link(mqtt, self.thing, self._on_message, hal)
        self.fixed_poll_ms = fixed_poll_ms
        self.telemetry_ms = config["telemetry_interval_s"] * 1000
        # Prune at least as often as ids age out, so a short horizon never fills the journal.
        self.prune_ms = min(PRUNE_INTERVAL_MS, max_ttl_s * 1000)
        now = hal.ticks_ms()
        self.started_ms = now
        self.last_telemetry_ms = now
        self.last_prune_ms = now
        self.was_connected = False

    def _on_message(self, topic, payload):
        # Runs inside umqtt before the PUBACK; only decides and queues, never publishes.
        if topic == self.action_topic:
            self.feeder.handle(payload)

    def run(self):
        while True:
            self.hal.watchdog_feed()
            try:
                self.step()
            except Exception as exc:  # MemoryError included: log it and keep serving
                self.log("app: error", repr(exc))
                self.hal.sleep_ms(ERROR_PAUSE_MS)

    def step(self):
        hal = self.hal
        link = self.link
        link.step(hal.ticks_ms())
        self._report_connection()
        if link.connected:
            self._drain()
        now = hal.ticks_ms()
        if hal.ticks_diff(now, self.last_prune_ms) >= self.prune_ms:
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
        """Publish queued results oldest first; each leaves the outbox only after its PUBACK."""
        outbox = self.outbox
        while self.link.connected:
            head = outbox.peek()
            if head is None:
                return
            seq, packed = head
            if not self.link.publish(self.states_topic, render(self.thing, seq, packed), 1):
                return  # link dropped; the same seq is sent again after the reconnect
            outbox.ack(seq)

    def _telemetry(self, now):
        hal = self.hal
        uptime_s = hal.ticks_diff(now, self.started_ms) // 1000
        message = telemetry_message(
            self.thing, uptime_s, hal.free_heap(), self.outbox.depth, self.outbox.dropped, hal.unix_time()
        )
        self.link.publish(self.states_topic, message, 0)

    def _wait_ms(self, now):
        """How long poll may block: until the next telemetry or prune deadline, at most MAX_WAIT_MS."""
        diff = self.hal.ticks_diff
        wait = min(MAX_WAIT_MS, self.prune_ms - diff(now, self.last_prune_ms))
        if self.link.connected:
            wait = min(wait, self.telemetry_ms - diff(now, self.last_telemetry_ms))
        return max(0, wait)

    def _report_connection(self):
        link = self.link
        if link.connected == self.was_connected:
            return
        self.was_connected = link.connected
        if link.connected:
            self.hal.led("online")
            self.log("app: up", link.connects, "outbox", self.outbox.depth)
        else:
            self.hal.led("offline")
            self.log("app: down", repr(link.last_error))


def boot(hal_factory, config_path, **app_options):
    """The device from power-on: config, watchdog, Wi-Fi, clock, then the main loop (never returns)."""
    config = config_module.load(config_path)
    hal = hal_factory(config["led_pin"])
    hal.watchdog_start(WATCHDOG_MS)
    hal.led("connecting")
    wifi = config.get("wifi")
    if wifi is not None:
        while not hal.wifi_connect(wifi["ssid"], wifi["password"], wifi["timeout_s"]):
            hal.watchdog_feed()
            hal.sleep_ms(WIFI_RETRY_PAUSE_MS)
    # TLS checks certificate dates, and the journal's expiry needs the real time.
    while not hal.time_sync():
        hal.watchdog_feed()
        hal.sleep_ms(NTP_RETRY_PAUSE_MS)
    App(config, hal, **app_options).run()

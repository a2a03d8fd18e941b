"""The whole system on one machine, on the self-hosted hub: `make demo` (python -m tools.demo).

    button (thing's certificate) ─► mosquitto ─► hub: ledger (SQLite, hash chain) ─ rule feeds ─► feeder
      handler ─► mosquitto ─► firmware on MicroPython ─ results ─► mosquitto ─► hub: ledger ─ rule history ─►
      projector ─► feeding history (SQLite)

Starts mosquitto (cloud.hub.broker, the dev PKI in .pki/), the hub (cloud/hub/) in this process with its data
in a temp dir, and the firmware on the unix port with a fresh flash; then tells the story:
1. SINGLE, DOUBLE and LONG presses feed their bowls;
2. at least once: the same press message again is one ledger event, and the hub restarted with its feeds
   cursor where a SIGKILL between delivery and cursor save leaves it delivers LONG again: `duplicate`;
3. a broker outage while the device dispenses: its result waits in the device's flash outbox and drains;
4. the feeding history table and chart (--chart, default history.png in the current folder);
5. a rebuild of the history up to T (just after the first three presses) equals the live history as it
   stood at T, with no servo motion and no command sent;
6. a tampered copy of the ledger is caught by `verify`; the live ledger verifies intact;
and a closing summary. Stops everything it started, also on Ctrl-C or error; exit 0 only when every
step showed what it should.
"""

import argparse
import collections
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time

from cloud import history as history_mod
from cloud.handlers import button
from cloud.hub import checkpoint
from cloud.hub import ledger as ledger_mod
from cloud.hub.broker import Broker
from cloud.hub.hub import Hub
from cloud.hub.hydrate import hydrate
from cloud.hub.pki import Pki
from cloud.hub.projection import SqliteStore
from cloud.topology import THING, button_topic, states_topic
from tools.demo_stage import (
    EXPECTED_BOWLS,
    PKI_DIR,
    PRESSES,
    UP_TIMEOUT_S,
    DemoFailed,
    DeviceProcess,
    run,
    say,
    show_servo_writes,
    step,
)
from tools.mqttc import MqttClient

BUTTON_TOPIC = button_topic(THING)
STATES_TOPIC = states_topic(THING)
BOWLS_SAID = {"SINGLE": "the left bowl", "DOUBLE": "the right bowl", "LONG": "both bowls"}
RESULT_TIMEOUT_S = 30
OUTAGE_S = 3
# Short reconnect backoff so the demo's outage ends in seconds (the board's defaults are 0.5 s .. 60 s).
DEVICE_MQTT = {"backoff_base_ms": 200, "backoff_cap_ms": 1000}


class HubLog(logging.Handler):
    def emit(self, record):
        say("  hub| " + record.getMessage())


class Demo:
    def __init__(self, stack, workdir, chart):
        self.chart = chart
        self.stack = stack
        self.workdir = workdir
        self.seq = 0
        self.results = {}  # press id -> result detail

    # 1. Everything up
    def start_everything(self):
        step("1. mosquitto (mutual TLS, ACL), the hub (ledger, rules, handlers), the firmware on MicroPython")
        self.pki = Pki(PKI_DIR, THING).ensure()
        self.broker = Broker(self.pki, os.path.join(self.workdir, "broker")).start()
        self.stack.callback(lambda: self.broker.stop())
        say("mosquitto on 127.0.0.1:%d: mutual TLS, ACL as the IoT policies" % self.broker.port)
        logger = logging.getLogger("hub")
        logger.setLevel(logging.INFO)
        logger.addHandler(HubLog())
        self.data_dir = os.path.join(self.workdir, "hub")
        self.start_hub()
        say("hub data in %s (ledger.sqlite3, history.sqlite3)" % self.data_dir)
        self.device = DeviceProcess(
            os.path.join(self.workdir, "flash"), self.pki, self.broker.port, **DEVICE_MQTT
        )
        self.stack.callback(self.device.stop)
        say("firmware on MicroPython, fresh flash in %s" % self.device.flash)
        self.device.wait_for("app: up", UP_TIMEOUT_S)
        self.button = MqttClient(self.pki, self.broker.port, "device", client_id=THING + "-button")
        self.stack.callback(self.button.close)
        say(
            "button: publishes on %s with the thing's certificate (as `make press` or the board's button)"
            % BUTTON_TOPIC
        )

    def start_hub(self):
        self.hub = Hub(self.data_dir, self.pki, "127.0.0.1", self.broker.port).start()
        self.stack.callback(self.hub.stop)

    def db(self):
        return ledger_mod.connect(self.hub.ledger_path, readonly=True)

    def press(self, click, again=None):
        """Publish a press (or the same message again); returns its message and press id."""
        if again is None:
            self.seq += 1
            again = {"v": 1, "event": click, "at": int(time.time()), "seq": self.seq}
        self.button.publish(BUTTON_TOPIC, json.dumps(again), 1)
        press_id = button.parse_press(dict(again, thing=THING))["press_id"]
        say("press %s (%s): the hub recorded it as %s" % (click, BOWLS_SAID[click], press_id))
        mechanism("%s at QoS 1; the broker acknowledged it (PUBACK) once it was in the hub's ledger"
                  % json.dumps(again))
        return again, press_id

    def result_for(self, press_id, after_seq=0, timeout_s=RESULT_TIMEOUT_S):
        """The device's next result for press_id, as the ledger holds it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            db = self.db()
            for seq, event in ledger_mod.read(db, after=after_seq):
                detail = event["detail"]
                if event["detail-type"] == "FeedResult" and detail.get("id") == press_id:
                    db.close()
                    say("  the feeder answered: %s" % _answer(detail))
                    mechanism("device -> %s: seq=%d id=%s status=%s bowls=%s"
                              % (STATES_TOPIC, detail["seq"], press_id, detail["status"],
                                 json.dumps(detail["bowls"])))
                    return seq, detail
            db.close()
            time.sleep(0.05)
        raise DemoFailed("no result for %s in the ledger within %d s" % (press_id, timeout_s))

    def last_seq(self):
        db = self.db()
        (seq,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        db.close()
        return seq

    def feed(self, click, expected_status, expected_bowls, message=None):
        trace_before = len(self.device.trace())
        after = self.last_seq()
        message, press_id = self.press(click, message)
        _, result = self.result_for(press_id, after)
        time.sleep(0.1)
        writes = self.device.trace()[trace_before:]
        self.device.print_output()
        show_servo_writes(writes, self.device.config["servos"])
        if result["status"] != expected_status or result["bowls"] != expected_bowls:
            raise DemoFailed("%s: expected %s %s, got %r" % (click, expected_status, expected_bowls, result))
        return message, press_id, writes

    # 2. Presses
    def press_all(self):
        step("2. Three presses: button -> mosquitto -> hub ledger -> rule feeds -> feeder -> device")
        self.presses = {}
        for click in PRESSES:
            say()
            message, press_id, _ = self.feed(click, "dispensed", EXPECTED_BOWLS[click])
            self.presses[click] = (message, press_id)
        self.wait_projected()
        self.t = time.time()
        self.live_at_t = self.history_rows()
        say()
        say("T = %s: the history now shows %s (kept as it is, to compare with a rebuild later)"
            % (history_mod._when(self.t), _presses(self.live_at_t)))

    def wait_projected(self, timeout_s=10):
        deadline = time.monotonic() + timeout_s
        while not self.hub.delivered():
            if time.monotonic() > deadline:
                raise DemoFailed("the hub's rules did not catch up with the ledger within %d s" % timeout_s)
            time.sleep(0.02)

    def history_rows(self, path=None):
        store = SqliteStore(path or self.hub.history_path)
        rows = dict(store.rows())
        store.close()
        return rows

    # 3. At least once
    def redeliver(self):
        step("3. Nothing counts twice: a press sent again, and a hub that crashed at the worst moment")
        message, press_id = self.presses["LONG"]
        before = self.last_seq()
        say("The LONG press's message again, as a button that missed the acknowledgement sends it:")
        self.press("LONG", again=message)
        time.sleep(0.5)
        say("  still one LONG press in the history")
        mechanism("ledger: %d new event(s): the same press is one event (its dedup key is its content)"
                  % (self.last_seq() - before))
        if self.last_seq() != before:
            raise DemoFailed("a redelivered press message must not be a second ledger event")
        self.hub.stop()
        db = sqlite3.connect(self.hub.ledger_path)
        (long_seq,) = db.execute(
            "SELECT seq FROM events WHERE dedup_key IS NOT NULL AND body LIKE ?",
            ('%"press_id":"' + press_id + '"%',),
        ).fetchone()
        with db:
            db.execute("UPDATE cursors SET seq = ? WHERE rule = 'feeds'", (long_seq - 1,))
        db.close()
        say("The hub stops as if the power went off just after it sent the LONG command, before it noted "
            "that it had; restarted, it sends the command again:")
        mechanism("feeds cursor set back to %d, where a SIGKILL between delivering ledger event %d and "
                  "saving the cursor leaves it" % (long_seq - 1, long_seq))
        trace_before = len(self.device.trace())
        self.start_hub()
        _, result = self.result_for(press_id, before)
        time.sleep(0.3)
        writes = self.device.trace()[trace_before:]
        show_servo_writes(writes, self.device.config["servos"])
        if result["status"] != "duplicate" or writes:
            raise DemoFailed(
                "a redelivered command must be a duplicate with no servo motion, got %r" % result
            )
        say("  -> the feeder knew that command and did not feed again")
        mechanism("duplicate: the device journaled the id before the first dispense; no servo moved")

    # 4. Outage
    def outage(self):
        step("4. The network goes down while the feeder feeds: it keeps its answer and sends it later")
        trace_before = len(self.device.trace())
        after = self.last_seq()
        _, press_id = self.press("SINGLE")
        deadline = time.monotonic() + RESULT_TIMEOUT_S
        while len(self.device.trace()) == trace_before:
            if time.monotonic() > deadline:
                raise DemoFailed("the servo did not start for the outage press")
            time.sleep(0.005)
        self.broker.stop()
        say("  the bowl is being filled; the broker stops (the hub and the feeder lose their connections)")
        time.sleep(OUTAGE_S)
        self.device.print_output()
        db = self.db()
        answered = [e for _, e in ledger_mod.read(db, after=after) if e["detail"].get("id") == press_id]
        db.close()
        if answered:
            raise DemoFailed("the result reached the ledger during the outage: %r" % answered)
        say("  %d s later: no answer has arrived; the broker starts again on the same port" % OUTAGE_S)
        self.broker.start()
        dispensed_seq, result = self.result_for(press_id, after)
        self.device.print_output()
        writes = self.device.trace()[trace_before:]
        show_servo_writes(writes, self.device.config["servos"])
        if result["status"] != "dispensed" or result["bowls"] != ["left"]:
            raise DemoFailed("the outage press: expected dispensed [left], got %r" % result)
        say("  -> the answer arrived once the feeder reconnected")
        mechanism("the result drained from the device's flash outbox, with its seq and its own `at`")
        # The link acknowledges a command after its callback, i.e. after the dispense: the broker went down
        # before that PUBACK, so it delivers the command again, and the journal answers it.
        trace_after = len(self.device.trace())
        _, again = self.result_for(press_id, dispensed_seq)
        if again["status"] != "duplicate" or len(self.device.trace()) != trace_after:
            raise DemoFailed("the command redelivered after the outage must be a duplicate, got %r" % again)
        say("  -> the broker sent the command again; the feeder knew it and did not feed twice")
        mechanism("duplicate, no servo moved: the device acknowledges a command (PUBACK) after the dispense, "
                  "and the broker went down before that")
        self.wait_projected()

    # 5. History
    def history(self):
        step("5. The feeding history (make history): table and chart")
        history = history_mod.History(self.history_rows().items(), time.time())
        today = time.gmtime()
        day = history_mod.date(today.tm_year, today.tm_mon, today.tm_mday)
        presses = history.between(day, day)
        for line in history_mod.table(history, presses):
            say("  history| " + line)
        history_mod.chart(history, presses, day, day, self.chart)
        say("chart of portions per day per bowl: %s" % os.path.abspath(self.chart))
        self.shown = [p["shown"] for p in presses]

    # 6. Rebuild
    def rebuild(self):
        step("6. Rebuild the history from the ledger up to T, into a brand-new projection")
        trace_before = len(self.device.trace())
        events_before = self.last_seq()
        out = os.path.join(self.workdir, "history-at-T.sqlite3")
        read, projected = hydrate(
            self.hub.ledger_path,
            out,
            until=self.t,
            progress=lambda r, d: say("  replay: %d events read, %d delivered to rule history" % (r, d)),
        )
        rebuilt = self.history_rows(out)
        same = rebuilt == self.live_at_t
        say("rebuilt to T from %d ledger events: %s; the same as the live history at T: %s"
            % (read, _presses(rebuilt), "yes" if same else "NO"))
        say("(the live history now shows %s: the rebuild left out everything after T)"
            % _presses(self.history_rows()))
        time.sleep(0.5)
        moved = len(self.device.trace()) - trace_before
        new_events = self.last_seq() - events_before
        say(
            "servo writes during the rebuild: %d; device results during the rebuild: %d" % (moved, new_events)
        )
        if not same or moved or new_events or projected != read:
            raise DemoFailed("the rebuild must equal the live history at T and move nothing")

    # 7. Tamper
    def tamper(self):
        step("7. Tampering: a copy of the ledger with one press changed")
        copy_dir = os.path.join(self.workdir, "tampered")
        os.makedirs(copy_dir)
        source = sqlite3.connect(self.hub.ledger_path)
        target = sqlite3.connect(os.path.join(copy_dir, "ledger.sqlite3"))
        source.backup(target)
        source.close()
        target.execute("DROP TRIGGER events_no_update")
        target.execute("""UPDATE events SET body = replace(body, '"event":"DOUBLE"', '"event":"LONG"')
                          WHERE detail_type = 'FeedRequested' AND body LIKE '%"event":"DOUBLE"%'""")
        target.commit()
        target.close()
        # The checkpoints' public key beside it, as in the hub's folder: the broker's checkpoint counts too.
        shutil.copy(os.path.join(self.data_dir, checkpoint.PUBLIC_KEY_FILE), copy_dir)
        say("copy: the DOUBLE press rewritten as LONG (triggers dropped first, as an attacker would)")
        self.verdicts = {}
        for label, data_dir in (("tampered copy", copy_dir), ("live ledger", self.data_dir)):
            run = subprocess.run(
                # The demo's broker, whose retained checkpoint is the live ledger's (not make hub's 8883).
                [sys.executable, "-m", "cloud.hub", "verify", "--data-dir", data_dir,
                 "--broker-port", str(self.broker.port), "--pki", self.pki.dir],
                capture_output=True,
                text=True,
                timeout=60,
            )
            for line in run.stdout.splitlines():
                say("  verify %s| %s" % (label, line))
            self.verdicts[label] = run.returncode
        if self.verdicts != {"tampered copy": 1, "live ledger": 0}:
            raise DemoFailed("verify must catch the edit and pass the live ledger: %r" % self.verdicts)

    def summary(self):
        step("8. Summary")
        db = self.db()
        kinds = db.execute(
            "SELECT detail_type, COUNT(*) FROM events GROUP BY detail_type ORDER BY 1"
        ).fetchall()
        for seq, event in ledger_mod.read(db):
            detail = event["detail"]
            say("  ledger| %2d %-15s %s" % (seq, event["detail-type"], _summary(detail)))
        db.close()
        say("ledger: %s" % ", ".join("%d %s" % (n, kind) for kind, n in kinds))
        outcomes = ", ".join("%d %s" % (n, shown) for shown, n in collections.Counter(self.shown).items())
        say("history: %d presses: %s" % (len(self.shown), outcomes))
        say("servo: %d PWM writes in all, none for the duplicate or the rebuild" % len(self.device.trace()))


def _answer(result):
    """What the feeder's result means for the cat (statuses: docs/protocol.md)."""
    if result["status"] == "dispensed":
        return "fed " + " and ".join("the %s bowl" % bowl for bowl in result["bowls"])
    if result["status"] == "duplicate":
        return "already done, nothing fed again"
    return "not fed (%s%s)" % (result["status"], ": " + result["reason"] if result.get("reason") else "")


def mechanism(text):
    """The second, indented line under a step of the story: how it happened, for those who want it."""
    say("      how: " + text)


def _presses(rows):
    """How many presses a history projection shows (its other rows are the devices')."""
    count = sum(1 for key in rows if key.startswith("press#"))
    return "%d press%s" % (count, "" if count == 1 else "es")


def _summary(detail):
    if "press_id" in detail:
        return "%s %s" % (detail["event"], detail["press_id"])
    if detail.get("type") == "result":
        return "seq=%d %s %s %s" % (
            detail["seq"],
            detail["id"],
            detail["status"],
            json.dumps(detail["bowls"]),
        )
    return "%s %s" % (detail.get("type"), detail.get("status", ""))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--chart", default="history.png", help="where the history chart goes")
    args = parser.parse_args(argv)

    def tell(stack, workdir):
        demo = Demo(stack, workdir, args.chart)
        demo.start_everything()
        demo.press_all()
        demo.redeliver()
        demo.outage()
        demo.history()
        demo.rebuild()
        demo.tamper()
        demo.summary()

    return run(
        tell,
        "9. Stopping the device, the hub and mosquitto",
        "three feeds, a duplicate absorbed, an outage drained, the history rebuilt to T equal to live,"
        " tampering caught",
    )


if __name__ == "__main__":
    sys.exit(main())

"""Ingest: what IoT Core's topic rules do on AWS. A persistent QoS 1 session (paho-mqtt, manual
acknowledgements) on every thing's button and states topics (cat-feeder/+/button, cat-feeder/+/states);
each message goes through the same handler its topic rule invokes on AWS, after the rule's SELECT
(button: the listed fields; states: the whole message), with `thing` taken from the topic, never the
payload (cloud/handlers/button.py, cloud/handlers/states.py), whose PutEvents lands in the ledger. A
message is acknowledged (PUBACK) only after the ledger commit that holds its event, so a hub killed at
any point loses no acknowledged message: the broker redelivers the others, and the ledger's dedup key
keeps them once.

Messages are committed in groups: the writer takes whatever arrives within LINGER_S of the first (up
to BATCH) and commits it in one transaction, one fsync, before acknowledging all of it. Under load a
group is what waited during the previous commit: the larger it is, the more of its events share each
page written (the unique index on the dedup key dirties a random page per event otherwise). BATCH
bounds the transaction, not memory: what waits is in the inbox already, whatever BATCH is.

Bad input (not JSON text in UTF-8: parse_payload; not an object, oversized, invalid fields) is logged with
the reason and kept in the `rejected` table (in the same commit); it never stops the hub.

A commit that fails (the disk full, an I/O error) is retried every RETRY_S with nothing acknowledged:
the broker keeps the messages (QoS 1, not acknowledged; it stops sending once its in-flight window is
full). One log line when it starts, `stalled` holds the reason meanwhile (the health flag), one line
when a commit succeeds again and ingest resumes on its own.
"""

import json
import logging
import queue
import sqlite3
import ssl
import threading
import time

import paho.mqtt.client as paho

from cloud.handlers import bounds
from cloud.hub.pki import credentials_error
from cloud.topology import BUTTON_TOPIC_FILTER, STATES_TOPIC_FILTER, topic_thing

log = logging.getLogger("hub")
BATCH = 4096
# Group commit: after the first message, wait this long for more to share its fsync.
LINGER_S = 0.002
RETRY_S = 1.0
CLIENT_ID = "cat-feeder-hub"
# The button topic rule's SELECT: these payload fields, and `thing` from the topic (never the payload's).
BUTTON_FIELDS = ("v", "event", "at", "seq")


class NotJson(ValueError):
    """A payload that is no JSON text: see parse_payload."""


def _no_constant(name):
    raise NotJson("%s is no JSON number" % name)


def parse_payload(payload):
    """A payload's JSON as AWS IoT's rules and services read it, for every topic the hub serves: UTF-8 text
    (json.loads would guess UTF-16 or UTF-32 from bytes), numbers without NaN or Infinity. ValueError
    otherwise (NotJson, JSONDecodeError, UnicodeDecodeError), also for nesting too deep for the parser,
    which would raise RecursionError."""
    try:
        return json.loads(bytes(payload).decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise NotJson("nested too deeply") from None


def mqtt_client(pki, identity, client_id, clean_session=True, manual_ack=False):
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        manual_ack=manual_ack,
        protocol=paho.MQTTv311,
    )
    try:
        client.tls_set(
            ca_certs=pki.cert("ca"),
            certfile=pki.cert(identity),
            keyfile=pki.key(identity),
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    except (ssl.SSLError, ValueError) as error:
        raise credentials_error(pki, identity, error) from None
    client.reconnect_delay_set(0.05, 2)
    return client


def acknowledging(handle, service):
    """An on_message callback for a manual-ack client (mqtt_client's manual_ack): handle(topic, payload),
    then the PUBACK. A handler that raises is logged and its message left unacknowledged, so the broker
    redelivers it; the service never stops."""

    def on_message(client, userdata, message):
        try:
            handle(message.topic, message.payload)
        except Exception:
            log.exception("hub: %s message on %s failed", service, message.topic)
            return
        if message.qos:
            client.ack(message.mid, message.qos)

    return on_message


class Ingest:
    def __init__(self, ledger, events, runtime, pki, host, port, on_commit):
        self.ledger = ledger
        self.runtime = runtime
        self.on_commit = on_commit
        self.inbox = queue.Queue()
        self.events = events
        self.client = mqtt_client(pki, "hub", CLIENT_ID, clean_session=False, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.subscribed = threading.Event()  # set once the broker holds the hub's subscriptions
        self.client.on_message = lambda client, userdata, message: self.inbox.put(message)
        self.host, self.port = host, port
        self.writer = threading.Thread(target=self._write_loop, name="ingest", daemon=True)
        self.stopping = False
        self.stalled = None  # why the ledger refuses writes, while it does
        self.committing_since = None  # time.monotonic() when the commit under way began
        self.rejected = []

    def start(self):
        self.writer.start()
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self):
        self.stopping = True
        self.inbox.put(None)
        self.writer.join(10)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("hub: broker refused the hub's connection: %s", reason_code)
            return
        if flags.session_present:
            # The broker kept the subscriptions and queued what came meanwhile. Subscribing again would
            # make it resend the retained status as if new.
            log.info("hub: reconnected; the broker kept the hub's session")
            self.subscribed.set()
            return
        client.subscribe([(BUTTON_TOPIC_FILTER, 1), (STATES_TOPIC_FILTER, 1)])
        log.info(
            "hub: subscribed to %s and %s (persistent session, QoS 1)",
            BUTTON_TOPIC_FILTER,
            STATES_TOPIC_FILTER,
        )

    def _write_loop(self):
        while True:
            first = self.inbox.get()
            if first is None:
                return
            batch = [first]
            linger_until = time.monotonic() + LINGER_S
            while len(batch) < BATCH:
                try:
                    message = self.inbox.get(timeout=max(0.0, linger_until - time.monotonic()))
                except queue.Empty:
                    break
                if message is None:
                    self.stopping = True
                    break
                batch.append(message)
            self.commit(batch)
            if self.stopping:
                return

    def lag_s(self):
        """How long the commit under way has been waiting (0 when idle): grows while the disk is full."""
        since = self.committing_since
        return 0.0 if since is None else time.monotonic() - since

    def commit(self, batch):
        self.committing_since = time.monotonic()
        try:
            self._commit(batch)
        finally:
            self.committing_since = None

    def _commit(self, batch):
        for message in batch:
            self.handle(message.topic, message.payload)
        events, rejected = self.events.take(), self.rejected
        self.rejected = []
        if not self._append_until_written(events, rejected):
            return  # stopping: not acknowledged, the broker redelivers to the next start
        for message in batch:
            if message.qos:
                self.client.ack(message.mid, message.qos)
        self.on_commit()

    def _append_until_written(self, events, rejected):
        """True once written; False when the hub stops first. Nothing is acknowledged meanwhile."""
        while True:
            try:
                self.ledger.append_batch(events, rejected)
            except (sqlite3.Error, OSError) as error:
                if self.stalled is None:
                    self.stalled = str(error)
                    log.error(
                        "hub: the ledger refuses writes (%s): ingest stopped acknowledging, the broker keeps"
                        " the messages; retrying every %.0f s",
                        error,
                        RETRY_S,
                    )
                if self.stopping:
                    return False
                time.sleep(RETRY_S)
                continue
            if self.stalled is not None:
                log.warning("hub: the ledger accepts writes again; ingest resumed")
                self.stalled = None
            return True

    def handle(self, topic, payload):
        """Run the topic's handler; its PutEvents collects events for the next commit."""
        try:
            if len(payload) > bounds.MAX_MESSAGE_BYTES:
                raise ValueError("payload of %d bytes is over %d" % (len(payload), bounds.MAX_MESSAGE_BYTES))
            message = parse_payload(payload)
            if topic.endswith("/states"):
                if isinstance(message, dict):
                    message["thing"] = topic_thing(topic)  # the rule's SELECT *, topic(2) AS thing
                answer = self.runtime["states"](message)
            elif isinstance(message, dict):
                selected = {field: message[field] for field in BUTTON_FIELDS if field in message}
                selected["thing"] = topic_thing(topic)
                answer = self.runtime["button"](selected)
            else:
                answer = {"status": "rejected", "reason": "press: expected a JSON object"}
        except Exception as error:  # not JSON, oversized; any other is a bug, and the message is kept too
            answer = {"status": "rejected", "reason": "%s: %s" % (type(error).__name__, error)}
        if answer.get("status") == "rejected":
            log.error("rejected message on %s: %s (kept in the rejected table)", topic, answer["reason"])
            self.rejected.append((topic, bytes(payload), answer["reason"]))
        elif topic.endswith("/states"):
            _log_state(message)
        else:
            log.info(
                "press %s %s from %s (seq %s)",
                answer["event"],
                answer["press_id"],
                selected["thing"],
                selected.get("seq"),
            )


def _log_state(message):
    if message["type"] == "result":
        log.info(
            "result %s %s bowls %s (device seq %d)%s",
            message["id"],
            message["status"],
            message["bowls"],
            message["seq"],
            " reason: %s" % message["reason"] if "reason" in message else "",
        )
    elif message["type"] == "status":
        log.info("device %s %s", message["thing"], message["status"])

"""Anchored checkpoints: what lets `verify` see that the newest events of the ledger are gone.

A hash chain proves the order of the rows that are there; it cannot prove that none is missing at
the end (delete the newest rows and the rest still chains). So the hub signs, with a key of its own,
a checkpoint {length, head hash, time} and keeps it where the ledger file is not:

- `checkpoints.jsonl` in the data directory: one signed checkpoint per line, appended and fsynced;
- a retained MQTT message on the broker (CHECKPOINT_TOPIC), which the broker keeps in its own
  persistence, outside the ledger file; the hub publishes the newest one again on every (re)connect.

It writes one at start (when the ledger grew since the last one, e.g. after a crash), every
INTERVAL_S while events arrive, and at a clean stop. `verify` (cloud/hub/__main__.py) checks every
checkpoint it finds against the ledger: a ledger ending before a checkpoint, a head that disagrees
with one, a checkpoint whose signature does not verify (an edited file or a forged message) and a
checkpoint file whose lengths go back are reported.

The key is Ed25519, generated into the data directory on first start (`checkpoint.key`, 0600, never
committed: the data directory is git-ignored) with its public half beside it (`checkpoint.pub`).
What this does not stop: cloud/hub/README.md, "What verify proves, and what it cannot".
"""

import base64
import json
import logging
import os
import ssl
import threading
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cloud.hub import ledger as ledger_mod

log = logging.getLogger("hub")
CHECKPOINT_TOPIC = "cat-feeder-hub/checkpoint"
KEY_FILE = "checkpoint.key"
PUBLIC_KEY_FILE = "checkpoint.pub"
CHECKPOINTS_FILE = "checkpoints.jsonl"
INTERVAL_S = 180.0
SIGNED_FIELDS = ("v", "length", "head", "at")
FETCH_WAIT_S = 1.0


def load_or_create_key(data_dir):
    """The hub's signing key; created (0600) with its public half on first use."""
    path = os.path.join(data_dir, KEY_FILE)
    if os.path.exists(path):
        with open(path, "rb") as f:
            text = f.read()
        try:
            key = serialization.load_pem_private_key(text, password=None)
        except ValueError as error:
            key, why = None, str(error).split(".")[0]
        else:
            why = "a %s key, not Ed25519" % type(key).__name__
        if not isinstance(key, Ed25519PrivateKey):
            # Never replaced on its own: the checkpoints it signed verify only with its public half.
            raise ledger_mod.UnreadableFile(
                "%s: not the hub's signing key (%s)" % (path, why),
                advice="restore it from a backup (make a new one only by moving it aside: checkpoints signed"
                " before then verify with its public half, %s, only)" % PUBLIC_KEY_FILE,
            )
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    with open(os.path.join(data_dir, PUBLIC_KEY_FILE), "w") as f:
        f.write(public_hex(key.public_key()) + "\n")
    log.info(
        "hub: new checkpoint key; its public half is %s (keep a copy elsewhere)", public_hex(key.public_key())
    )
    return key


def public_hex(public_key):
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def load_public_key(data_dir, given_hex=None):
    """The public key from `given_hex` (one kept elsewhere) or the data directory; None when neither."""
    text = given_hex
    if text is None:
        path = os.path.join(data_dir, PUBLIC_KEY_FILE)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            text = f.read().strip()
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))


def _signed_text(checkpoint):
    return json.dumps(
        {field: checkpoint[field] for field in SIGNED_FIELDS}, sort_keys=True, separators=(",", ":")
    )


def sign(key, length, head, at):
    checkpoint = {"v": 1, "length": length, "head": head, "at": int(at)}
    checkpoint["sig"] = base64.b64encode(key.sign(_signed_text(checkpoint).encode())).decode()
    return checkpoint


def signature_ok(public_key, checkpoint):
    try:
        public_key.verify(base64.b64decode(checkpoint["sig"]), _signed_text(checkpoint).encode())
    except (InvalidSignature, KeyError, TypeError, ValueError):
        return False
    return True


def ledger_head(db):
    """(length, head hash) of the ledger as it is now."""
    row = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return row if row else (0, ledger_mod.GENESIS)


def append(data_dir, checkpoint):
    with open(os.path.join(data_dir, CHECKPOINTS_FILE), "a") as f:
        f.write(json.dumps(checkpoint, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_file(data_dir):
    """[(where, checkpoint or None)] from the checkpoint file, in order; None for a line that is not one."""
    path = os.path.join(data_dir, CHECKPOINTS_FILE)
    if not os.path.exists(path):
        return []
    found = []
    with open(path, errors="replace") as f:
        for number, line in enumerate(f, 1):
            try:
                checkpoint = json.loads(line)
                if not isinstance(checkpoint, dict):
                    checkpoint = None
            except ValueError:
                checkpoint = None
            found.append(("checkpoint file line %d" % number, checkpoint))
    return found


def describe(checkpoint):
    return "checkpoint of %s at seq %s" % (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(checkpoint["at"])),
        checkpoint["length"],
    )


def check(db, found, public_key):
    """Problems of the ledger against the checkpoints found [(where, checkpoint)]; [] when all agree."""
    problems = []
    if found and public_key is None:
        return ["checkpoints found but no public key (%s) to check them" % PUBLIC_KEY_FILE]
    (length, _) = ledger_head(db)
    previous_length = {}
    for where, checkpoint in found:
        if checkpoint is None or not signature_ok(public_key, checkpoint):
            problems.append("%s: signature does not verify (edited or forged)" % where)
            continue
        source = where.split(" line ")[0]
        if checkpoint["length"] < previous_length.get(source, 0):
            problems.append(
                "%s: length %d goes back from %d" % (where, checkpoint["length"], previous_length[source])
            )
        previous_length[source] = max(previous_length.get(source, 0), checkpoint["length"])
        if checkpoint["length"] > length:
            problems.append(
                "%s: the ledger ends at seq %d, before the %s (newest events missing)"
                % (where, length, describe(checkpoint))
            )
            continue
        row = db.execute("SELECT hash FROM events WHERE seq = ?", (checkpoint["length"],)).fetchone()
        head = row[0] if row else ledger_mod.GENESIS
        if head != checkpoint["head"]:
            problems.append("%s: the ledger's head disagrees with the %s" % (where, describe(checkpoint)))
    return problems


def fetch_retained(pki, host, port, topic=CHECKPOINT_TOPIC, timeout_s=5.0):
    """The JSON object retained on a hub topic ({} when it is not one, None when there is none), read
    with the hub's certificate; ConnectionError when the broker cannot be reached."""
    from cloud.hub.ingest import mqtt_client

    client = mqtt_client(pki, "hub", "cat-feeder-hub-reader-%d" % os.getpid())
    received, subscribed = [], threading.Event()
    client.on_connect = lambda c, *args: c.subscribe(topic, 1)
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_message = lambda c, userdata, message: received.append(message.payload)
    try:
        client.connect(host, port, keepalive=10)
    except (OSError, ssl.SSLError) as error:
        raise ConnectionError("broker %s:%d not reachable (%s)" % (host, port, error)) from error
    client.loop_start()
    try:
        if not subscribed.wait(timeout_s):
            raise ConnectionError("broker %s:%d: no SUBACK within %.0f s" % (host, port, timeout_s))
        # mosquitto sends a retained message right after the SUBACK, on the same connection.
        deadline = time.monotonic() + FETCH_WAIT_S
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()
    if not received:
        return None
    try:
        checkpoint = json.loads(received[0])
    except ValueError:
        return {}
    return checkpoint if isinstance(checkpoint, dict) else {}


class Checkpointer:
    """Signs and publishes checkpoints of the ledger at `ledger_path` for the running hub."""

    def __init__(self, data_dir, key, ledger_path, mqtt_client, stopping, interval_s=INTERVAL_S):
        self.data_dir = data_dir
        self.key = key  # load_or_create_key's, which the hub reads before anything starts
        self.db = ledger_mod.connect(ledger_path, readonly=True)
        self.stopping = stopping
        self.interval_s = interval_s
        self.latest = None
        for _, checkpoint in read_file(data_dir):
            if checkpoint is not None:
                self.latest = checkpoint
        self.client = mqtt_client  # connected by the hub, which calls publish_latest() on each connect
        self.thread = threading.Thread(target=self._loop, name="checkpoint", daemon=True)

    def start(self):
        self.take()
        self.thread.start()

    def take(self):
        """Sign the ledger's head when it moved since the last checkpoint; append it and publish it."""
        length, head = ledger_head(self.db)
        if length == 0 or (
            self.latest is not None and (self.latest["length"], self.latest["head"]) == (length, head)
        ):
            return None
        checkpoint = sign(self.key, length, head, time.time())
        append(self.data_dir, checkpoint)
        self.latest = checkpoint
        return self.publish_latest()

    def publish_latest(self):
        """Retain the newest checkpoint on the broker (again on each connect: the broker may have lost it)."""
        if self.latest is None or not self.client.is_connected():
            return None
        return self.client.publish(CHECKPOINT_TOPIC, json.dumps(self.latest, sort_keys=True), 1, retain=True)

    def _loop(self):
        while not self.stopping.wait(self.interval_s):
            try:
                self.take()
            except OSError as error:  # a full disk: the next round tries again
                log.error("hub: checkpoint not written (%s); trying again in %.0f s", error, self.interval_s)

    def stop(self):
        """The clean stop's checkpoint, sent before the connection closes."""
        self.thread.join(5)
        sent = self.take()
        if sent is not None:
            sent.wait_for_publish(5)
        self.db.close()

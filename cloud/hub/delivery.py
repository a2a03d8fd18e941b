"""Rules and their delivery: the local counterpart of EventBridge rules and targets.

Each rule of cloud/topology.py gets a thread and a cursor (the last ledger seq it has handled, kept
in the ledger file). The thread reads events after its cursor in ledger order (none: it waits for the
next commit, `Commits`), and for each one its pattern matches, calls every target; then it moves the
cursor. The cursor is saved after the targets ran, once per batch read (one write instead of one per
event: an SD card's wear), so a hub killed in between delivers that batch again on restart: at least
once, as EventBridge. A rule may run each batch inside a transaction of its target's store
(`around_batch`: the history projection), for the same reason. A batch is up to BATCH events, what
waited: under load, the larger the history transaction, the more of its events share each page of the
projection's random-key index; a crash redelivers at most that many (the device deduplicates commands
by id). A failing target is retried with exponential backoff up to the target's `retry.max_attempts`
and `retry.max_event_age_s`, then the event goes to the dead-letter table and the rule moves on.

Targets: a function is the runtime's function (cloud/hub/runtime.py: the handler of cloud/handlers,
in-process) called with the event (a Lambda-shaped, JSON-decoded copy); a queue is a row in
`queue_messages`.
"""

import contextlib
import json
import logging
import threading
import time
from datetime import datetime

from cloud.hub import ledger as ledger_mod
from cloud.hub import patterns

log = logging.getLogger("hub")
BACKOFF_S = 0.1
BACKOFF_CAP_S = 5.0
BATCH = 2048


class FunctionTarget:
    def __init__(self, topology, key, runtime):
        self.name = topology["functions"][key]["name"]
        self.key = key
        self.runtime = runtime

    def __call__(self, event, db):
        if self.runtime is None:
            raise LookupError("function %s: this delivery was given no runtime" % self.name)
        return self.runtime[self.key](json.loads(json.dumps(event)))


class QueueTarget:
    def __init__(self, topology, key):
        self.name = topology["queues"][key]["name"]

    def __call__(self, event, db):
        db.execute(
            "INSERT INTO queue_messages (queue, body, at) VALUES (?, ?, ?)",
            (self.name, json.dumps(event), time.time()),
        )
        return None


class Rule:
    def __init__(self, topology, spec, runtime=None):
        patterns.check(spec["event_pattern"], "rule %s" % spec["name"])
        self.name = spec["name"]
        self.pattern = spec["event_pattern"]
        self.targets = []
        for target in spec["targets"]:
            call = (
                FunctionTarget(topology, target["function"], runtime)
                if "function" in target
                else QueueTarget(topology, target["queue"])
            )
            self.targets.append((call, target.get("retry", {})))

    def matches(self, event):
        return patterns.matches(self.pattern, event)


def rules(topology, runtime=None):
    """The topology's rules; their function targets call runtime's functions (none: queues only)."""
    return [Rule(topology, spec, runtime) for spec in topology["rules"]]


def event_age_s(event, now):
    return now - datetime.fromisoformat(event["time"]).timestamp()


def deliver(rule, event, db, sleep=time.sleep, now=time.time):
    """Call each target of rule with event, retrying; a target that keeps failing dead-letters the event."""
    for call, retry in rule.targets:
        attempts = 0
        while True:
            attempts += 1
            try:
                answer = call(event, db)
                _log_delivery(rule, call, event, answer)
                break
            except Exception as error:  # a target's failure must not stop the rule
                too_old = event_age_s(event, now()) > retry.get("max_event_age_s", 24 * 3600)
                if attempts > retry.get("max_attempts", 8) or too_old:
                    why = "%s: %s" % (type(error).__name__, error)
                    db.execute(
                        "INSERT INTO dead_letters (rule, target, event_seq, attempts, error, at)"
                        " VALUES (?, ?, (SELECT seq FROM events WHERE id = ?), ?, ?, ?)",
                        (rule.name, call.name, event["id"], attempts, why, now()),
                    )
                    log.error(
                        "rule %s -> %s: event %s dead-lettered after %d attempts: %s",
                        rule.name,
                        call.name,
                        event["id"],
                        attempts,
                        why,
                    )
                    break
                log.warning(
                    "rule %s -> %s: attempt %d failed (%s), retrying", rule.name, call.name, attempts, error
                )
                sleep(min(BACKOFF_CAP_S, BACKOFF_S * 2 ** (attempts - 1)))


def _log_delivery(rule, call, event, answer):
    """The feeder's answers (a command published, expired) tell the hub's story; the rest is noise."""
    if isinstance(answer, dict) and "id" in answer:
        detail = event.get("detail", {})
        log.info(
            "rule %s -> %s: command %s %s %s",
            rule.name,
            call.name,
            answer["id"],
            detail.get("event", ""),
            answer["status"],
        )


@contextlib.contextmanager
def transaction(db):
    """One transaction on an autocommit connection (isolation_level=None) for a delivery batch."""
    db.execute("BEGIN")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class Commits:
    """The ledger's commits, counted, for the rule threads to wait on. A thread notes the count before
    it reads the ledger and, finding nothing new, waits only while the count is still that: a commit
    landing between its read and its wait wakes it at once. (A bare Condition.wait after the read
    would sleep through that notify: the press would wait for the next commit.) Ingest is the
    ledger's only writer, and it calls committed() after each commit."""

    def __init__(self):
        self._changed = threading.Condition()
        self._count = 0

    def count(self):
        with self._changed:
            return self._count

    def committed(self):
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def wait_past(self, seen, stopping):
        """Until a commit after count `seen`, or stopping is set (whoever sets it calls committed())."""
        with self._changed:
            self._changed.wait_for(lambda: self._count != seen or stopping.is_set())


class Deliverer(threading.Thread):
    """One rule's delivery loop, woken by `commits` (a Commits) after each ledger commit."""

    def __init__(self, ledger_path, rule, commits, stopping, around_batch=contextlib.nullcontext):
        super().__init__(name="rule-" + rule.name, daemon=True)
        self.around_batch = around_batch
        self.rule = rule
        self.commits = commits
        self.stopping = stopping
        # The cursor may lag on power loss (NORMAL): that only means a redelivery, never a loss.
        self.db = ledger_mod.connect(ledger_path, synchronous="NORMAL")
        row = self.db.execute("SELECT seq FROM cursors WHERE rule = ?", (rule.name,)).fetchone()
        self.cursor = row[0] if row else 0

    def run(self):
        while not self.stopping.is_set():
            seen = self.commits.count()
            batch = ledger_mod.read(self.db, after=self.cursor, limit=BATCH)
            if not batch:
                self.commits.wait_past(seen, self.stopping)
                continue
            with self.around_batch():
                for seq, event in batch:
                    if self.stopping.is_set():
                        break
                    if self.rule.matches(event):
                        deliver(self.rule, event, self.db)
                    self.cursor = seq
            self.save_cursor()
        self.db.close()

    def save_cursor(self):
        self.db.execute(
            "INSERT INTO cursors (rule, seq) VALUES (?, ?)"
            " ON CONFLICT (rule) DO UPDATE SET seq = excluded.seq",
            (self.rule.name, self.cursor),
        )

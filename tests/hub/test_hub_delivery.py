"""Rule delivery on the hub (cloud/hub/delivery.py): retries with backoff, then the dead-letter table;
cursors that resume where a stopped hub left off; a commit landing between a rule's empty read and its
wait is not slept through."""

import threading
import time

from cloud.hub import delivery
from cloud.hub import ledger as ledger_mod
from cloud.hub.events import dedup_key
from cloud.topology import TOPOLOGY
from rigs.hubdata import press_event


class Flaky:
    name = "flaky-target"

    def __init__(self, failures):
        self.failures = failures
        self.calls = []

    def __call__(self, event, db):
        self.calls.append(event["id"])
        if len(self.calls) <= self.failures:
            raise ConnectionError("broker down")
        return {"status": "published"}


def replays_rule(target, retry):
    rule = delivery.Rule(TOPOLOGY, next(r for r in TOPOLOGY["rules"] if r["name"] == "replays"))
    rule.targets = [(target, retry)]
    return rule


def test_a_failing_target_is_retried_with_backoff_then_succeeds(tmp_path):
    db = ledger_mod.Ledger(str(tmp_path / "l.sqlite3")).db
    target, sleeps = Flaky(failures=3), []
    event = press_event(1, at=int(time.time()))
    delivery.deliver(replays_rule(target, {"max_attempts": 8}), event, db, sleep=sleeps.append)
    assert len(target.calls) == 4 and sleeps == [0.1, 0.2, 0.4]
    assert db.execute("SELECT COUNT(*) FROM dead_letters").fetchone() == (0,)


def test_a_target_failing_past_its_attempts_or_the_event_age_dead_letters_the_event(tmp_path):
    ledger = ledger_mod.Ledger(str(tmp_path / "l.sqlite3"))
    fresh, old = press_event(1, at=int(time.time())), press_event(2, at=int(time.time()) - 400)
    ledger.append_batch([(fresh, dedup_key(fresh)), (old, dedup_key(old))])
    target = Flaky(failures=100)
    rule = replays_rule(target, {"max_attempts": 2, "max_event_age_s": 300})
    delivery.deliver(rule, fresh, ledger.db, sleep=lambda s: None)
    delivery.deliver(rule, old, ledger.db, sleep=lambda s: None)
    assert len(target.calls) == 3 + 1  # 1 + 2 retries; the old one is past its age at the first failure
    rows = ledger.db.execute("SELECT rule, target, event_seq, attempts, error FROM dead_letters").fetchall()
    assert rows == [
        ("replays", "flaky-target", 1, 3, "ConnectionError: broker down"),
        ("replays", "flaky-target", 2, 1, "ConnectionError: broker down"),
    ]


def test_a_rule_resumes_after_its_cursor_so_a_restart_delivers_what_was_not_delivered(tmp_path):
    path = str(tmp_path / "l.sqlite3")
    ledger = ledger_mod.Ledger(path)
    events = [press_event(i, at=int(time.time())) for i in range(1, 6)]
    ledger.append_batch([(e, dedup_key(e)) for e in events[:3]])
    commits, stopping = delivery.Commits(), threading.Event()
    target = Flaky(failures=0)
    first = delivery.Deliverer(path, replays_rule(target, {}), commits, stopping)
    first.rule.pattern = {"source": [{"exists": True}]}  # live events too
    first.start()
    deadline = time.monotonic() + 5
    while len(target.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stopping.set()
    commits.committed()
    first.join(5)
    ledger.append_batch([(e, dedup_key(e)) for e in events[3:]])
    second = delivery.Deliverer(path, replays_rule(target, {}), commits, threading.Event())
    assert second.cursor == 3
    second.rule.pattern = first.rule.pattern
    second.stopping.set()
    batch = ledger_mod.read(second.db, after=second.cursor)
    assert [e["id"] for _, e in batch] == [e["id"] for e in events[3:]]
    assert target.calls == [e["id"] for e in events[:3]]


def test_a_commit_between_a_rules_empty_read_and_its_wait_is_delivered_without_another_commit(
    tmp_path, monkeypatch
):
    """The missed notify (seen as stalled presses under load): the rule's thread reads nothing new,
    then ingest commits and notifies before the thread waits. Nothing but that notify wakes it (the
    rules do not poll), so sleeping through it would leave the press undelivered until the next one."""
    path = str(tmp_path / "l.sqlite3")
    ledger = ledger_mod.Ledger(path)
    commits, stopping = delivery.Commits(), threading.Event()
    target = Flaky(failures=0)
    rule = replays_rule(target, {})
    rule.pattern = {"source": [{"exists": True}]}  # live events too
    event = press_event(1, at=int(time.time()))
    read = ledger_mod.read
    landed = []

    def read_then_a_commit_lands(db, **kwargs):
        batch = read(db, **kwargs)
        if not batch and not landed:  # the ingest's commit, after this read and before the wait
            ledger.append_batch([(event, dedup_key(event))])
            commits.committed()
            landed.append(event["id"])
        return batch

    monkeypatch.setattr(ledger_mod, "read", read_then_a_commit_lands)
    deliverer = delivery.Deliverer(path, rule, commits, stopping)
    deliverer.start()
    try:
        deadline = time.monotonic() + 10
        while not target.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        assert landed and target.calls == landed
    finally:
        stopping.set()
        commits.committed()
        deliverer.join(5)
    assert not deliverer.is_alive()

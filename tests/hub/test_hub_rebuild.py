"""Hydrate and rewind on the hub: a projection rebuilt from the ledger up to T equals the live one as it
stood at T, on a generated history of 1,200 presses with device answers, redeliveries, duplicates,
expiries, a cap, rejections and a device outage whose results arrive hours late."""

import random

import pytest

from cloud.handlers import projector
from cloud.hub import delivery
from cloud.hub.events import dedup_key
from cloud.hub.hydrate import hydrate
from cloud.hub.ledger import Ledger
from cloud.hub.projection import SqliteStore
from cloud.hub.runtime import Runtime
from cloud.topology import COMMAND_TTL_S, TOPOLOGY
from rigs.hubdata import BOWLS, T0, press_event, result_event, status_event

OUTAGE = (T0 + 30 * 3600, T0 + 36 * 3600)  # the device is offline; its results wait in its outbox


def generated_history(presses=1200, seed=12):
    """[(arrival time, event)] in arrival order: what the hub ingests, redeliveries included."""
    rng = random.Random(seed)
    arrivals, seq, outbox = [], 0, []
    at = T0
    for n in range(presses):
        at += rng.uniform(60, 240)
        press = press_event(n, at=int(at))  # a press carries whole seconds
        arrivals.append((at, press))
        if rng.random() < 0.05:
            arrivals.append((at + 0.5, press))  # a QoS 1 redelivery of the same press message
        press_id = press["detail"]["press_id"]
        offline = OUTAGE[0] <= at < OUTAGE[1]
        roll = rng.random()
        if roll < 0.04:
            continue  # the device never answered: unconfirmed once the TTL passes
        status, bowls, extra = "dispensed", BOWLS[press["detail"]["event"]], {}
        if roll < 0.08:
            status, bowls = "expired", []
        elif roll < 0.10:
            status, bowls, extra = "capped", [], {"reason": "feeding cap reached"}
        elif roll < 0.11:
            status, bowls = "interrupted", BOWLS[press["detail"]["event"]]
        answers = [(status, bowls, extra)]
        if rng.random() < 0.08:
            answers.append(("duplicate", [], {}))  # the rule delivered the command twice
        for status, bowls, extra in answers:
            seq += 1
            decided = round(at + rng.uniform(0.5, 2), 3)
            event = result_event(seq, press_id, status, int(decided), bowls, **extra)
            outbox.append(event)
            if not offline:
                for queued in outbox:
                    arrivals.append((decided + 0.1, queued))
                outbox = []
        if rng.random() < 0.01:
            seq += 1  # a result lost (outbox overflow): a gap
        if rng.random() < 0.02:
            seq += 1
            outbox.append(result_event(seq, None, "rejected", int(at) + 1, reason="event: expected SINGLE"))
    arrivals.append((OUTAGE[0], status_event("offline", OUTAGE[0])))
    arrivals.append((OUTAGE[1], status_event("online", OUTAGE[1])))
    arrivals.sort(key=lambda pair: pair[0])
    # After the outage the queued results arrive in a burst, with their old `at`.
    return arrivals


class SimClock:
    now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def history(tmp_path):
    """The live run: each arrival committed at its simulated time, then delivered by the history rule
    (sometimes twice: at least once), with snapshots of the live projection at chosen times."""
    clock = SimClock()
    ledger = Ledger(str(tmp_path / "ledger.sqlite3"), clock=clock)
    live = SqliteStore(str(tmp_path / "live.sqlite3"))
    (rule,) = [r for r in delivery.rules(TOPOLOGY, Runtime(store=live)) if r.name == "history"]
    arrivals = generated_history()
    checkpoints = [T0 + 12 * 3600, OUTAGE[0] + 3 * 3600, OUTAGE[1] + 60, arrivals[-1][0] + 1]
    snapshots, rng = {}, random.Random(3)
    try:
        for arrival, event in arrivals:
            while checkpoints and arrival > checkpoints[0]:
                snapshots[checkpoints.pop(0)] = dict(live.rows())
            clock.now = arrival
            (seq,) = ledger.append_batch([(event, dedup_key(event))])
            if seq is not None:
                for _ in range(2 if rng.random() < 0.05 else 1):
                    delivery.deliver(rule, event, ledger.db)
        for checkpoint in checkpoints:
            snapshots[checkpoint] = dict(live.rows())
    finally:
        live.close()
    ledger.close()
    return tmp_path, snapshots, arrivals


def test_rebuild_to_t_equals_live_at_t(history):
    tmp_path, snapshots, arrivals = history
    presses = {e["detail"]["press_id"] for _, e in arrivals if e["detail-type"] == "FeedRequested"}
    assert len(presses) == 1200
    for n, (t, live) in enumerate(sorted(snapshots.items())):
        out = str(tmp_path / ("rebuilt-%d.sqlite3" % n))
        hydrate(str(tmp_path / "ledger.sqlite3"), out, until=t)
        rebuilt = SqliteStore(out)
        assert dict(rebuilt.rows()) == live, "rebuild to %s differs from live" % t
        rebuilt.close()
    final = snapshots[max(snapshots)]
    # The checkpoints differ from each other, so the equality above says something.
    assert snapshots[OUTAGE[0] + 3 * 3600] != final
    outcomes = [
        projector.outcome_as_of(row, max(snapshots), COMMAND_TTL_S)
        for key, row in final.items()
        if key.startswith("press#")
    ]
    # The generated history exercises every outcome the history shows.
    for outcome in ("dispensed", "expired", "capped", "interrupted", "unconfirmed"):
        assert outcome in outcomes
    assert sum(row.get("duplicates", 0) for row in final.values()) > 20
    device = final["device#cat-feeder"]
    assert device["status"]["status"] == "online" and device["missing"] and device["rejected"] > 0
    during_outage = snapshots[OUTAGE[0] + 3 * 3600]["device#cat-feeder"]
    assert during_outage["status"]["status"] == "offline"

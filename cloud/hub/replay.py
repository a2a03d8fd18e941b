"""Replays of the ledger: the hub's counterpart of an EventBridge archive replay, with the two things
moto's replays lack: a time window and a choice of rules (`FilterArns`).

Events recorded in [start, end] (the hub's commit time, which grows with the ledger seq, so a replay
to T sees exactly what the hub had seen at T) are copied with `replay-name` and delivered, in ledger
order, to the chosen rules whose pattern matches. A replay never reaches the live `feeds` rule: it
cannot be chosen, its pattern excludes `replay-name`, and the feeder refuses replayed events. Names
are unique (kept in the `replays` table); a replay is not recorded in the ledger itself.
"""

import sqlite3
import time

from cloud.hub import delivery
from cloud.hub import ledger as ledger_mod
from cloud.topology import TOPOLOGY

BATCH = 1000


class ReplayRefused(ValueError):
    """The replay could feed the cats or is not well-formed; nothing was replayed."""


def chosen_rules(names, topology=TOPOLOGY, runtime=None):
    if not names:
        raise ReplayRefused("rules: name at least one rule; a replay to every rule would reach the feeder")
    if topology["live_rule"] in names:
        raise ReplayRefused(
            "rules: %r is the live feeder rule; replays must never feed" % topology["live_rule"]
        )
    known = {rule.name: rule for rule in delivery.rules(topology, runtime)}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ReplayRefused("rules: no rule named %s (known: %s)" % (", ".join(unknown), ", ".join(known)))
    return [known[name] for name in names]


def replay(
    ledger_path,
    name,
    start,
    end,
    rule_names,
    topology=TOPOLOGY,
    progress=None,
    stop=None,
    retarget=None,
    runtime=None,
):
    """Deliver the window to the chosen rules; returns (events read, deliveries). stop: an Event-like.
    retarget: {rule name: target} replaces that rule's targets for this replay (hydrate's new table).
    runtime: the functions the rules' function targets call (cloud/hub/runtime.py)."""
    rules = chosen_rules(rule_names, topology, runtime)
    for rule in rules:
        if retarget and rule.name in retarget:
            rule.targets = [(retarget[rule.name], retry) for _, retry in rule.targets]
    if start > end:
        raise ReplayRefused("start must not be after end")
    db = ledger_mod.connect(ledger_path, synchronous="NORMAL")
    try:
        db.execute(
            "INSERT INTO replays VALUES (?, ?, ?, ?, 'RUNNING', 0, ?)",
            (name, start, end, ",".join(rule_names), time.time()),
        )
    except sqlite3.IntegrityError:
        db.close()
        raise ReplayRefused("replay name %r was used before; names are unique" % name) from None
    read = delivered = 0
    after, state = 0, "COMPLETED"
    try:
        while True:
            batch = ledger_mod.read(db, after=after, limit=BATCH, recorded_from=start, recorded_until=end)
            if not batch:
                break
            for seq, event in batch:
                event["replay-name"] = name
                for rule in rules:
                    if rule.matches(event):
                        delivery.deliver(rule, event, db)
                        delivered += 1
                after = seq
                read += 1
            if progress:
                progress(read, delivered)
            if stop is not None and stop.is_set():
                state = "CANCELLED"
                break
    except KeyboardInterrupt:
        state = "CANCELLED"
        raise
    finally:
        db.execute("UPDATE replays SET state = ?, events = ? WHERE name = ?", (state, read, name))
        db.close()
    return read, delivered

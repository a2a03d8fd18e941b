"""Order-independence of the projection (cloud/handlers/projector.py), the property a hydrated table and the
hub's rebuild rely on: for every press and device row, the events applied in any order and with any
duplicates give the same row, byte for byte (the JSON text the store keeps). Generated event sets on the
hub's SQLite store; every permutation of small sets on SQLite and on DynamoDB (moto's server through the
strict layer of tests/strict_aws, then dynalite)."""

import itertools
import json
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.handlers import projector
from cloud.hub.events import envelope
from cloud.hub.projection import SqliteStore
from cloud.topology import DEVICE_SOURCE
from rigs.hubdata import T0, press_event, result_event, status_event, update_event
from tests.cloud.envs import create_history_table

STATUSES = ("dispensed", "duplicate", "expired", "capped", "interrupted", "rejected")
UPDATES = tuple(projector.UPDATE_PHASES)
THINGS = ("cat-feeder", "kitchen")


def will(arrived, thing="cat-feeder"):
    detail = {"v": 1, "type": "status", "thing": thing, "status": "offline"}
    return envelope(
        {
            "Source": DEVICE_SOURCE,
            "DetailType": "DeviceStatus",
            "Detail": json.dumps(detail),
            "Time": datetime.fromtimestamp(arrived, tz=timezone.utc),
        }
    )


def telemetry(at, thing, rssi):
    detail = {"v": 1, "type": "telemetry", "thing": thing, "rssi": rssi, "at": at}
    event = status_event("online", at, thing)
    return dict(event, **{"detail-type": "DeviceTelemetry", "detail": detail})


@st.composite
def event_sets(draw):
    """Presses, their answers (several per press, ties in `at` included), statuses, wills, telemetry and
    update events (two jobs, a phase twice with ties) of two devices. A result is named by (thing, seq):
    each name carries one content."""
    presses = [press_event(n + 1) for n in range(draw(st.integers(1, 3)))]
    ids = [p["detail"]["press_id"] for p in presses] + ["no-such-press"]
    events = list(presses)
    for thing in THINGS:
        for seq in draw(st.sets(st.integers(1, 12), max_size=5)):
            status = draw(st.sampled_from(STATUSES))
            bowls = ["left"] if status in ("dispensed", "interrupted") else []
            extra = {"reason": draw(st.sampled_from(["cap", "ttl"]))} if status != "dispensed" else {}
            at = T0 + draw(st.integers(0, 3))
            events.append(result_event(seq, draw(st.sampled_from(ids)), status, at, bowls, thing, **extra))
        for _ in range(draw(st.integers(0, 3))):
            at = T0 + draw(st.integers(0, 12))
            kind = draw(st.sampled_from(["online", "offline", "will", "telemetry"]))
            if kind == "will":
                events.append(will(at, thing))
            elif kind == "telemetry":
                events.append(telemetry(at, thing, draw(st.integers(-80, -40))))
            else:
                events.append(status_event(kind, at, thing))
        for _ in range(draw(st.integers(0, 4))):
            job = draw(st.sampled_from(["ota-1_5_0-1", "ota-1_6_0-2"]))
            events.append(update_event(draw(st.sampled_from(UPDATES)), T0 + draw(st.integers(0, 3)),
                                       job[4:9].replace("_", "."), job, thing,
                                       reason=draw(st.sampled_from(["bad signature", None]))))
    return events


def sqlite_rows(events):
    store = SqliteStore(":memory:")
    for event in events:
        projector.project(store, event)
    rows = dict(store.db.execute("SELECT key, doc FROM items"))
    store.close()
    return rows


# Derandomized and without an example database: the same examples on every run and no files left behind.
@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(events=event_sets(), data=st.data())
def test_any_order_with_duplicates_gives_the_same_rows(events, data):
    shuffled = data.draw(st.permutations(events))
    repeated = data.draw(st.lists(st.sampled_from(events), max_size=4))
    position = data.draw(st.integers(0, len(shuffled)))
    assert sqlite_rows(shuffled[:position] + repeated + shuffled[position:]) == sqlite_rows(events)


def small_set():
    """One press answered `capped` and `expired` at the same `at` and `dispensed` later by the other
    device, a duplicate, and a device's `online` and a last will a second apart."""
    press = press_event(1)
    press_id = press["detail"]["press_id"]
    return [
        press,
        result_event(1, press_id, "capped", T0 + 1, reason="feeding cap"),
        result_event(2, press_id, "expired", T0 + 1, reason="ttl"),
        result_event(1, press_id, "dispensed", T0 + 5, ["left"], "kitchen"),
        result_event(4, press_id, "duplicate", T0 + 6),
        status_event("online", T0 + 2),
        will(T0 + 3),
    ]


def orders(events, size):
    """Every permutation of the first `size` events, the rest after them."""
    return [list(order) + events[size:] for order in itertools.permutations(events[:size])]


def test_every_permutation_of_a_small_set_gives_the_same_sqlite_rows():
    events = small_set()
    rows = {json.dumps(sqlite_rows(order), sort_keys=True) for order in orders(events, 6)}
    assert len(rows) == 1
    row = json.loads(json.loads(rows.pop())["press#" + events[0]["detail"]["press_id"]])
    assert (row["outcome"], row["result_seqs"]) == ("dispensed", ["cat-feeder:1", "cat-feeder:2",
                                                                 "cat-feeder:4", "kitchen:1"])


def test_the_earliest_of_two_undecided_answers_wins_and_a_tie_goes_by_content():
    press = press_event(1)
    press_id = press["detail"]["press_id"]
    tie = [result_event(1, press_id, "expired", T0 + 1), result_event(2, press_id, "capped", T0 + 1)]
    later = result_event(3, press_id, "rejected", T0 + 9)
    for order in itertools.permutations([press, *tie, later]):
        row = json.loads(sqlite_rows(order)["press#" + press_id])
        assert (row["outcome"], row["outcome_at"]) == ("capped", T0 + 1)


def dynamodb_rows(client, table, events):
    create_history_table(client, table)
    store = projector.DynamoStore(client, table)
    for event in events:
        projector.project(store, event)
    items = client.scan(TableName=table, ConsistentRead=True)["Items"]
    return {item["key"]["S"]: item["doc"]["S"] for item in items}


def test_every_permutation_gives_the_same_dynamodb_rows_as_sqlite(dynamodb):
    client = dynamodb
    events = small_set()
    expected = sqlite_rows(events)
    for number, order in enumerate(orders(events, 4)):
        assert dynamodb_rows(client, "history-%d" % number, order + order[:2]) == expected

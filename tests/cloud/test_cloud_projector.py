"""The projector (cloud/handlers/projector.py) on DynamoDB (moto's server, then dynalite) writes the same
rows as on the hub's SQLite, from the same events, and its handler is what the `history` rule invokes."""

from cloud.handlers import projector
from cloud.hub.projection import SqliteStore
from rigs.hubdata import T0, press_event, result_event, status_event
from tests.cloud.envs import create_history_table

TABLE = "history-test"


def events():
    presses = [press_event(n) for n in range(30)]
    answers = [
        result_event(
            n + 1,
            p["detail"]["press_id"],
            "dispensed" if n % 4 else "capped",
            p["detail"]["pressed_at"] + 1,
            ["left"] if n % 4 else [],
            **({} if n % 4 else {"reason": "cap"}),
        )
        for n, p in enumerate(presses[:25])
    ]
    duplicate = result_event(
        40, presses[0]["detail"]["press_id"], "duplicate", presses[0]["detail"]["pressed_at"] + 5
    )
    return presses + answers + [duplicate, status_event("offline", 1795000100), answers[3], presses[7]]


def test_dynamodb_and_sqlite_stores_hold_the_same_history(dynamodb, tmp_path):
    client = dynamodb
    create_history_table(client, TABLE)
    context = projector.Context(projector.DynamoStore(client, TABLE), {"HISTORY_TABLE": TABLE})
    local = SqliteStore(str(tmp_path / "h.sqlite3"))
    answers = [projector.handle(event, context) for event in events()]
    for event in events():
        projector.project(local, event)
    assert dict(projector.DynamoStore(client, TABLE).rows()) == dict(local.rows())
    # The last two events were delivered before: nothing changed.
    assert answers[-2:] == [{"status": "unchanged"}, {"status": "unchanged"}]
    first = dict(local.rows())["press#" + events()[0]["detail"]["press_id"]]
    assert first["outcome"] == "capped" and first["duplicates"] == 1 and first["reason"] == "cap"


def test_a_row_takes_its_later_events_on_dynamodb(dynamodb):
    """Issue 16, defect 1: every update after a row's first write sent an empty ExpressionAttributeNames,
    which DynamoDB refuses (the strict layer, tests/strict_aws, and dynalite), so a press never got its
    outcome."""
    client = dynamodb
    create_history_table(client, TABLE)
    store = projector.DynamoStore(client, TABLE)
    press = press_event(1)
    press_id = press["detail"]["press_id"]
    projector.project(store, press)
    assert projector.project(store, result_event(1, press_id, "dispensed", T0 + 2, ["left"])) == "press"
    row, version = store.get("press#" + press_id)
    assert (row["outcome"], version) == ("dispensed", 2)

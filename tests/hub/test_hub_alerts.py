"""The incidents projection (cloud/handlers/alerts.py) on the hub's SQLite store: one alert and one
resolution per incident, repeats folded, the clock's transitions at the time the facts give (so a rebuild
to T equals the live incidents at T), replays never notify; and the household file's `alerts` section."""

import json
import threading
import time
from datetime import datetime, timezone

import pytest

from cloud import household
from cloud.handlers import alerts
from cloud.hub import alerting
from cloud.hub.events import envelope
from cloud.hub.projection import SqliteStore
from cloud.topology import DEVICE_SOURCE, SOURCE, TOPOLOGY
from rigs.hubdata import T0, result_event, status_event

CONFIG = alerts.settings(json.dumps({"offline_after_s": 600, "names": {"cat-feeder": "Kitchen"}}))


class Recorder:
    def __init__(self):
        self.notes = []

    def send(self, note):
        self.notes.append(note)


def device_event(detail_type, at, **detail):
    detail = dict({"v": 1, "thing": "cat-feeder"}, **detail)
    if at is not None:
        detail["at"] = at
    return envelope(
        {
            "Source": DEVICE_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "Time": datetime.fromtimestamp(at or T0, tz=timezone.utc),
        }
    )


def will(arrived):
    event = device_event("DeviceStatus", None, type="status", status="offline")
    event["time"] = datetime.fromtimestamp(arrived, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def context(tmp_path, name="i.sqlite3"):
    store = SqliteStore(str(tmp_path / name))
    recorder = Recorder()
    return alerts.Context(alerts.Alerting(store, recorder), {"ALERTS": json.dumps(CONFIG)}), recorder


def sent(recorder):
    return [(note["kind"], note["transition"]) for note in recorder.notes]


def test_a_bouncing_feeder_gives_one_offline_alert_and_one_back_online(tmp_path):
    ctx, recorder = context(tmp_path)
    alerts.handle(status_event("online", T0), ctx)
    alerts.handle(will(T0 + 100), ctx)
    assert alerts.check(ctx.store, CONFIG, T0 + 699) == []  # not yet 600 s
    for note in alerts.check(ctx.store, CONFIG, T0 + 700):
        ctx.notifier.send(note)
    for minute in range(1, 30):  # online and offline every minute for half an hour
        alerts.handle(status_event("online", T0 + 700 + 60 * minute), ctx)
        alerts.handle(will(T0 + 730 + 60 * minute), ctx)
    alerts.handle(status_event("online", T0 + 3000), ctx)
    assert alerts.check(ctx.store, CONFIG, T0 + 3059) == []
    for note in alerts.check(ctx.store, CONFIG, T0 + 3060):
        ctx.notifier.send(note)
    assert sent(recorder) == [("offline", "opened"), ("offline", "resolved")]
    _, resolved = alerts.incidents(ctx.store.rows())
    assert resolved[0]["count"] == 30 and resolved[0]["opened_at"] == T0 + 700
    assert resolved[0]["resolved_at"] == T0 + 3060 and "29 more drops" in recorder.notes[1]["body"]
    assert recorder.notes[0]["title"] == "Kitchen is offline"


def test_a_stale_last_will_after_a_reconnect_opens_nothing(tmp_path):
    ctx, recorder = context(tmp_path)
    alerts.handle(status_event("online", T0), ctx)
    alerts.handle(will(T0 + 3), ctx)  # the old session's will, sent as the device took it over
    assert alerts.check(ctx.store, CONFIG, T0 + 10_000) == [] and recorder.notes == []


def test_a_flood_of_capped_results_is_one_incident_resolved_by_the_next_dispense(tmp_path):
    ctx, recorder = context(tmp_path)
    for seq in range(1, 41):
        alerts.handle(result_event(seq, "p%d" % seq, "capped", T0 + seq, reason="cap: left bowl"), ctx)
    alerts.handle(result_event(40, "p40", "capped", T0 + 40, reason="cap: left bowl"), ctx)  # redelivered
    (incident,), _ = alerts.incidents(ctx.store.rows())
    assert incident["count"] == 40 and sent(recorder) == [("capped", "opened")]
    alerts.handle(result_event(41, "p41", "dispensed", T0 + 99, ["left"]), ctx)
    assert sent(recorder) == [("capped", "opened"), ("capped", "resolved")]
    assert recorder.notes[1]["title"] == "Kitchen feeds again"


def test_interrupted_rejected_missed_and_lost_results_each_open_their_incident(tmp_path):
    ctx, recorder = context(tmp_path)
    alerts.handle(result_event(1, "a", "interrupted", T0, ["left"]), ctx)
    alerts.handle(result_event(2, None, "rejected", T0 + 1, reason="event: expected SINGLE"), ctx)
    alerts.handle(result_event(6, "b", "duplicate", T0 + 2), ctx)  # 3-5 never arrived
    alerts.handle(device_event("DeviceTelemetry", T0 + 3, type="telemetry", dropped=2), ctx)
    missed = {"thing": "cat-feeder", "status": "missed", "slot": "07:00"}
    schedule = {"Source": SOURCE, "DetailType": "ScheduleSlot", "Detail": json.dumps(missed)}
    alerts.handle(envelope(dict(schedule, Time=datetime.fromtimestamp(T0 + 4, tz=timezone.utc))), ctx)
    assert sent(recorder) == [
        ("interrupted", "opened"),
        ("rejected", "opened"),
        ("lost", "opened"),
        ("missed", "opened"),
    ]
    opened, _ = alerts.incidents(ctx.store.rows())
    lost = next(incident for incident in opened if incident["kind"] == "lost")
    assert lost["count"] == 2 and "results 3-5 never arrived" in lost["summary"]
    assert [note["kind"] for note in alerts.check(ctx.store, CONFIG, T0 + 3 + 3600)] == ["lost"]


def test_what_the_household_turns_off_raises_nothing(tmp_path):
    config = dict(CONFIG, results=["interrupted"], lost_results=False)
    store = SqliteStore(str(tmp_path / "i.sqlite3"))
    assert alerts.apply(store, config, result_event(1, "a", "capped", T0)) == []
    assert alerts.apply(store, config, result_event(5, "a", "rejected", T0 + 1)) == []


def test_replayed_events_update_the_incidents_and_never_notify(tmp_path):
    ctx, recorder = context(tmp_path)
    event = result_event(1, "a", "interrupted", T0, ["left"])
    event["replay-name"] = "replay-1"
    assert alerts.handle(event, ctx)["status"] == "replayed"
    assert recorder.notes == [] and len(alerts.incidents(ctx.store.rows())[0]) == 1


def test_incidents_rebuilt_to_t_equal_the_live_ones_whenever_the_timer_ran(tmp_path):
    events = [status_event("online", T0), will(T0 + 50), status_event("online", T0 + 900)]
    events += [result_event(seq, "p", "capped", T0 + 900 + seq) for seq in range(1, 5)]
    events += [will(T0 + 2000), result_event(7, "q", "dispensed", T0 + 2100, ["left"])]
    live = SqliteStore(str(tmp_path / "live.sqlite3"))
    for index, event in enumerate(events):
        alerts.apply(live, CONFIG, event)
        alerts.check(live, CONFIG, T0 + 37 * index + 1000 * (index == 2))  # a timer at odd moments
    alerts.check(live, CONFIG, T0 + 5000)
    rebuilt = SqliteStore(str(tmp_path / "rebuilt.sqlite3"))
    for event in events:
        alerts.apply(rebuilt, CONFIG, event)
    alerts.check(rebuilt, CONFIG, T0 + 5000)
    assert list(live.rows()) == list(rebuilt.rows())
    opened, resolved = alerts.incidents(live.rows())
    assert sorted(i["kind"] for i in opened) == ["lost", "offline"]
    assert sorted(i["kind"] for i in resolved) == ["capped", "offline"]


def test_the_outbox_holds_one_row_per_destination_and_redacts_their_secrets(tmp_path):
    store = alerting.open_store(str(tmp_path / "i.sqlite3"))
    urls = ["json://alice:hunter2secret@127.0.0.1:9/x", "ntfys://ntfy.sh/topic-secret-token-42"]
    outbox = alerting.Outbox(store.db, urls)
    note = alerts.apply(store, CONFIG, result_event(1, "a", "interrupted", T0, ["left"]))[0]
    outbox.send(note)
    outbox.send(note)  # a redelivered batch adds nothing
    assert store.db.execute("SELECT COUNT(*) FROM notifications").fetchone() == (2,)
    for url in urls:
        assert "secret" not in alerting.redact(url) and alerting.redact(url).split(":")[0] in url


@pytest.mark.parametrize(
    "alerts_section, message",
    [
        ({"offline_after_s": 0}, "alerts.offline_after_s: expected seconds 1..604800, got 0"),
        ({"results": ["late"]}, "alerts.results: expected a list of interrupted, capped, rejected, missed"),
        ({"notify": ["hunter2"]}, "alerts.notify[0]: expected an Apprise URL (scheme://...)"),
        ({"sms": "0770"}, "alerts.sms: expected a phone number in E.164 form (+447700900123)"),
        ({"pager": True}, "alerts.pager: unknown key"),
    ],
)
def test_the_household_alerts_section_is_checked_in_one_line(alerts_section, message):
    document = {"things": [{"thing": "kitchen"}], "alerts": alerts_section}
    with pytest.raises(household.HouseholdError) as error:
        household.validate(document)
    assert str(error.value).startswith(message) and "hunter2" not in str(error.value)


def test_the_alerts_function_gets_the_thresholds_and_names_but_no_destination():
    home = household.validate(
        {
            "things": [{"thing": "kitchen", "name": "Kitchen"}],
            "alerts": {"offline_after_s": 120, "notify": ["tgram://bot-token/chat"], "email": "a@b.org"},
        }
    )
    environment = household.topology(home)["functions"]["alerts"]["environment"]["ALERTS"]
    assert json.loads(environment)["offline_after_s"] == 120
    assert json.loads(environment)["names"] == {"kitchen": "Kitchen"}
    assert "bot-token" not in environment and "a@b.org" not in environment


def test_two_incidents_opening_within_one_second_are_two_notifications(tmp_path):
    store = alerting.open_store(str(tmp_path / "i.sqlite3"))
    outbox = alerting.Outbox(store.db, ["json://127.0.0.1:9/x"])
    for seq, status in enumerate(("interrupted", "dispensed", "interrupted"), start=1):
        for note in alerts.apply(store, CONFIG, result_event(seq, "p%d" % seq, status, T0, ["left"])):
            outbox.send(note)
    rows = store.db.execute("SELECT incident, transition FROM notifications ORDER BY id").fetchall()
    assert rows == [
        ("interrupted:cat-feeder:1", "opened"),
        ("interrupted:cat-feeder:1", "resolved"),
        ("interrupted:cat-feeder:2", "opened"),
    ]


def test_the_hubs_own_health_opens_and_resolves_once(tmp_path):
    store = SqliteStore(str(tmp_path / "i.sqlite3"))
    failing = [alerts.observe_hub(store, CONFIG, "verify", True, "seq 3: hash", T0 + n) for n in range(3)]
    assert [len(notes) for notes in failing] == [1, 0, 0]
    (passing,) = alerts.observe_hub(store, CONFIG, "verify", False, "", T0 + 9)
    assert (passing["title"], passing["transition"]) == ("Hub: the ledger verifies again", "resolved")
    assert alerts.observe_hub(store, dict(CONFIG, hub=False), "ingest", True, "disk full", T0) == []


def test_the_incidents_command_lists_them_and_rebuilds_them_to_a_time(tmp_path, capsys):
    from cloud.hub.__main__ import main
    from cloud.hub.events import dedup_key
    from cloud.hub.ledger import Ledger

    times = iter(range(T0, T0 + 100))
    ledger = Ledger(str(tmp_path / "ledger.sqlite3"), clock=lambda: next(times))
    events = [result_event(1, "a", "capped", T0), result_event(2, "b", "dispensed", T0 + 1, ["left"])]
    for event in events:
        ledger.append_batch([(event, dedup_key(event))])
    ledger.close()
    assert main(["incidents", "--data-dir", str(tmp_path), "--to", "2026-11-18T11:06:40Z"]) == 0
    as_of_first = capsys.readouterr().out  # at T0: the capped result recorded, not the dispense
    assert "open incidents: 1" in as_of_first and "capped:cat-feeder:1 x1" in as_of_first
    assert main(["incidents", "--data-dir", str(tmp_path), "--to", "2026-11-18T12:00:00Z", "--json"]) == 0
    rebuilt = json.loads(capsys.readouterr().out)
    assert rebuilt["open"] == [] and [i["kind"] for i in rebuilt["resolved"]] == ["capped"]
    assert main(["incidents", "--data-dir", str(tmp_path)]) == 0  # the live file: none yet
    assert "open incidents: 0" in capsys.readouterr().out
    assert main(["incidents", "--data-dir", str(tmp_path / "elsewhere")]) == 2  # no hub ran there
    assert capsys.readouterr().err.startswith("hub: incidents: no ledger at %s" % (tmp_path / "elsewhere"))


def test_a_device_counting_its_results_again_still_alerts_and_a_repeat_does_not(tmp_path):
    store = SqliteStore(str(tmp_path / "i.sqlite3"))
    assert alerts.apply(store, CONFIG, result_event(500, "a", "dispensed", T0, ["left"])) == []
    assert alerts.apply(store, CONFIG, result_event(499, "z", "capped", T0 - 5)) == []  # a late repeat
    (note,) = alerts.apply(store, CONFIG, result_event(1, "b", "capped", T0 + 60))  # flash erased
    assert (note["kind"], note["transition"]) == ("capped", "opened")


def test_a_device_clock_ahead_of_the_world_does_not_advance_the_incidents_clock(tmp_path):
    store = SqliteStore(str(tmp_path / "i.sqlite3"))
    now = int(time.time())
    alerts.apply(store, CONFIG, will(now - 60))
    assert alerts.apply(store, CONFIG, status_event("online", now + 3600)) == []  # no offline, no back online


class RunningIngest:
    """What the clock reads of the hub's ingest: its writer, its broker client, a stall."""

    def __init__(self):
        self.stalled, self.stopping = None, False
        self.writer = threading.Thread(target=threading.Event().wait, daemon=True)
        self.writer.start()
        self.client = type("Client", (), {"is_connected": lambda self: True})()


def test_a_ledger_failing_verify_and_a_stalled_ingest_each_open_one_hub_incident(tmp_path):
    from cloud.hub.ledger import Ledger

    ledger = Ledger(str(tmp_path / "ledger.sqlite3"))
    events = [result_event(seq, "p", "dispensed", T0 + seq) for seq in (1, 2)]
    ledger.append_batch([(event, None) for event in events])
    ledger.db.execute("DROP TRIGGER events_no_update")
    ledger.db.execute("UPDATE events SET body = replace(body, 'dispensed', 'capped') WHERE seq = 1")
    ledger.close()
    stopping, ingest = threading.Event(), RunningIngest()
    ingest.stalled = "database or disk is full"
    hub_alerts = alerting.Alerting(
        str(tmp_path), TOPOLOGY, [], stopping, check_interval_s=0.05, verify_first_s=0
    )
    hub_alerts.start(lambda event: None, ingest, str(tmp_path / "ledger.sqlite3"))
    try:
        deadline = time.monotonic() + 5
        while len(alerting.listing(hub_alerts.path)["open"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        opened = {i["kind"]: i for i in alerting.listing(hub_alerts.path)["open"]}
        assert sorted(opened) == ["ingest", "verify"] and opened["verify"]["thing"] == "hub"
        assert "seq 1: hash does not match" in opened["verify"]["summary"]
        assert "database or disk is full" in opened["ingest"]["summary"]
        ingest.stalled = None
        while alerting.listing(hub_alerts.path)["open"] != [opened["verify"]] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [i["kind"] for i in alerting.listing(hub_alerts.path)["resolved"]] == ["ingest"]
    finally:
        stopping.set()
        hub_alerts.join(5)


def test_the_hub_says_at_start_when_the_examples_placeholder_topic_is_left_in():
    """ntfy.sh topics are public: household.example.json's, copied unedited, would tell anyone."""
    from cloud.hub.__main__ import household_line

    example = str(household.PATH.with_name("household.example.json"))
    said = household_line(example, household.load(example))
    assert said.startswith("household %s: feeders kitchen, bedroom; buttons hall-button; " % example)
    assert said.endswith("(one is household.example.json's placeholder topic: put a long random one of your "
                         "own)")
    own = household.validate({"things": [{"thing": "kitchen"}], "alerts": {"notify": ["ntfys://ntfy.sh/x7Qp"]}})
    assert household_line(example, own).endswith("alerts to 1 destination")

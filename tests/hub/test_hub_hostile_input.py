"""Hostile payloads on every topic the hub serves, at its services' message handlers with the real ledger and
stores (no broker: what the broker would carry is handed to the handler as it would be): each is refused
with a reason (the `rejected` table, a `/rejected` answer or a log line), is acknowledged (a handler that
raises leaves its message unacknowledged, to come back at every reconnect), and writes nothing but its
refusal; a good message right after lands."""

import json
import os

import pytest

from cloud.hub import jobs, shadows
from cloud.hub import ledger as ledger_mod
from cloud.hub.events import LedgerEvents
from cloud.hub.ingest import Ingest
from cloud.hub.pki import Pki
from cloud.hub.runtime import Runtime
from cloud.topology import TOPOLOGY, jobs_topic, shadow_topic

STATES = "cat-feeder/cat-feeder/states"
TELEMETRY = {"v": 1, "type": "telemetry", "thing": "cat-feeder", "at": 1795730000, "outbox_depth": 0}
DEEP = b"[" * 5000 + b"]" * 5000
# A lone surrogate is valid JSON (RFC 8259 allows the escape) but no text: UTF-8 cannot carry it, so the
# page's JSON answers could not either.
NOT_TEXT = b'{"v":1,"type":"result","at":1795730000,"seq":1,"id":"press-1","status":"rejected","bowls":[],' \
    b'"reason":"servo \\ud800"}'


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp("pki")), "cat-feeder").ensure()


@pytest.fixture
def data(tmp_path):
    folder = str(tmp_path / "hub")
    os.makedirs(folder)
    ledger_mod.Ledger(os.path.join(folder, "ledger.sqlite3")).close()
    return folder


def ledger_rows(data):
    db = ledger_mod.connect(os.path.join(data, "ledger.sqlite3"), readonly=True)
    try:
        events = [event for _, event in ledger_mod.read(db)]
        rejected = db.execute("SELECT topic, reason FROM rejected ORDER BY id").fetchall()
    finally:
        db.close()
    return events, rejected


class Message:
    def __init__(self, topic, payload):
        self.topic, self.payload, self.qos, self.mid = topic, payload, 1, 7


class Broker:
    """The client an on_message callback acknowledges through."""

    def __init__(self):
        self.acked = []

    def ack(self, mid, qos):
        self.acked.append(mid)


@pytest.mark.parametrize("payload, reason", [
    (json.dumps(dict(TELEMETRY, extra=float("nan"))).encode(), "NotJson: NaN is no JSON number"),
    (b'{"v":1,"type":"telemetry","at":1795730000,"extra":-Infinity}', "NotJson: -Infinity is no JSON number"),
    (NOT_TEXT, "message: expected JSON text (no NaN, Infinity or lone surrogate)"),
    (b'{"v":1,"type":"telemetry","at":1795730000,"\\udfff":1}', "message: expected JSON text"),
    (json.dumps(TELEMETRY).encode("utf-16"), "UnicodeDecodeError: "),
    (json.dumps(dict(TELEMETRY, v=1.0)).encode(), "v: expected 1, got 1.0"),
    (DEEP[:4000], "NotJson: nested too deeply"),
    # 400 portions of the left bowl in one result, by the history's and the page's count.
    (json.dumps({"v": 1, "type": "result", "at": 1795730000, "seq": 1, "id": "press-1", "status": "dispensed",
                 "bowls": ["left"] * 400}).encode(), "bowls: expected a list of left/right, each at most"),
])
def test_a_states_message_that_is_no_json_text_is_rejected_and_the_next_lands(tmp_path, pki, payload, reason):
    # NaN, Infinity and lone surrogates were put into the ledger: no JSON for AWS, and the page's answers
    # (JSON in UTF-8) failed with a 500 on every read of the history that held one.
    ledger = ledger_mod.Ledger(str(tmp_path / "ledger.sqlite3"))
    events = LedgerEvents()
    ingest = Ingest(ledger, events, Runtime(events=events), pki, "127.0.0.1", 1, on_commit=lambda: None)
    ingest.handle(STATES, payload)
    ingest.handle(STATES, json.dumps(TELEMETRY).encode())
    put, rejected = events.take(), ingest.rejected
    ledger.append_batch(put, rejected)
    ledger.close()
    assert [event["detail"] for event, _ in put] == [TELEMETRY]
    assert [(topic, why.startswith(reason)) for topic, _, why in rejected] == [(STATES, True)], rejected


def shadow_service(data, pki):
    service = shadows.ShadowService(data, pki, "127.0.0.1", 1, os.path.join(data, "ledger.sqlite3"), TOPOLOGY,
                                    on_commit=lambda: None)
    published = []
    service._publish = lambda topic, document: published.append((topic, document))  # no broker here
    return service, published


def test_shadow_requests_nested_too_deeply_or_not_json_are_refused_and_acknowledged(data, pki):
    # A nesting deeper than the parser's recursion raised out of the handler: a traceback in the log and
    # the message never acknowledged, so the broker sent it again at every reconnect of the hub.
    service, published = shadow_service(data, pki)
    broker = Broker()
    try:
        nan, deep_report = b'{"state":{"reported":{"version":NaN}}}', b'{"state":{"reported":' + DEEP + b"}}"
        for payload in (DEEP, nan, deep_report):
            for suffix in ("get", "update"):
                service.client.on_message(broker, None, Message(shadow_topic("cat-feeder", suffix), payload))
        good = {"state": {"reported": {"version": 3, "clock": "ntp"}}}
        service.client.on_message(broker, None, Message(shadow_topic("cat-feeder", "update"),
                                                        json.dumps(good).encode()))
        document = service.store.document("cat-feeder", shadows.SCHEDULE_SHADOW)
    finally:
        service.stop()
    assert broker.acked == [7] * 7
    assert [(topic.rsplit("/", 2)[-2:], answer["code"]) for topic, answer in published] == [
        (["get", "rejected"], 400)] * 3
    # Nothing of the refused requests was stored: the good one is the document's first version.
    assert document["version"] == 1 and document["reported"] == {"version": 3, "clock": "ntp"}
    events, _ = ledger_rows(data)
    assert [(event["detail-type"], event["detail"]["version"]) for event in events] == [
        ("ScheduleReported", 3)]


def test_jobs_requests_nested_too_deeply_or_not_json_are_answered_and_acknowledged(data, pki):
    ledger_path = os.path.join(data, "ledger.sqlite3")
    service = jobs.JobService(data, pki, "127.0.0.1", 1, ledger_path, lambda: None, None)
    published = []
    service._publish = lambda topic, document: published.append((topic, document))  # no broker here
    broker = Broker()
    try:
        # statusDetails of 100 KB were recorded whole, into the ledger's update event and the page.
        huge = json.dumps({"status": "FAILED", "statusDetails": {"reason": "x" * 100000}}).encode()
        for payload in (DEEP, b'{"status":"SUCCEEDED","expectedVersion":NaN}', huge):
            for suffix in ("$next/get", "job-1/update"):
                service.client.on_message(broker, None, Message(jobs_topic("cat-feeder", suffix), payload))
    finally:
        service.ledger.close()
        service.store.close()
    assert broker.acked == [7] * 6
    assert [(topic.split("/jobs/")[1], answer.get("code")) for topic, answer in published] == [
        ("$next/get/accepted", None), ("job-1/update/rejected", "InvalidRequest")] * 3
    assert published[-1][1]["message"] == "statusDetails values: at most 1024 characters"
    assert ledger_rows(data) == ([], [])


@pytest.mark.parametrize("name", ["history.sqlite3", "shadows.sqlite3", "jobs.sqlite3", "incidents.sqlite3",
                                  "checkpoint.key"])
def test_a_damaged_file_of_the_data_folder_stops_the_start_in_one_line_and_is_kept(tmp_path, pki, caplog,
                                                                                     name):
    # Each raised a traceback out of `make hub` and left its mosquitto running, orphaned.
    from cloud.hub.__main__ import main as hub_main
    from cloud.hub.processes import free_port

    data = tmp_path / "hub"
    data.mkdir()
    (data / name).write_bytes(b"not what the hub wrote\n" * 200)
    started = hub_main(["run", "--data-dir", str(data), "--pki", pki.dir, "--port", str(free_port()),
                        "--https-port", str(free_port())])
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert started == 2 and len(errors) == 1 and str(data / name) in errors[0], errors
    assert "move it aside" in errors[0] or "restore it" in errors[0]
    assert (data / name).read_bytes() == b"not what the hub wrote\n" * 200
    assert processes_naming(str(data)) == []  # its mosquitto stopped too


def processes_naming(text):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:  # gone meanwhile
            pass
    return found


def test_status_reads_past_checkpoint_lines_of_another_shape(data, pki):
    # {"v": 1} as the file's last line made `status` end in a TypeError traceback.
    from cloud.hub import checkpoint, status

    key = checkpoint.load_or_create_key(data)
    checkpoint.append(data, checkpoint.sign(key, 0, ledger_mod.GENESIS, 1795730000))
    with open(os.path.join(data, checkpoint.CHECKPOINTS_FILE), "a") as f:
        f.write('{"v": 1}\n{"length": "12", "at": 1e300}\nnot json\n')
    report = status.gather(data, pki, "127.0.0.1", 1)
    assert "last checkpoint: seq 0 at 2026-11-26T21:53:20Z" in status.lines(report)


def test_a_data_folder_that_is_a_file_is_one_line(tmp_path, pki, capsys):
    from cloud.hub.__main__ import main as hub_main

    (tmp_path / "hub").write_text("a file, not a folder")
    assert hub_main(["run", "--data-dir", str(tmp_path / "hub"), "--pki", pki.dir]) == 2
    assert capsys.readouterr().err == "hub: --data-dir %s: a file, not a folder\n" % (tmp_path / "hub")


@pytest.mark.parametrize("name", ["publisher.crt", "publisher.key", "ca.crt"])
def test_make_press_with_a_damaged_certificate_key_or_ca_is_one_line(tmp_path, pki, name):
    # Each was an ssl.SSLError traceback.
    import shutil

    from cloud.press import PressError, publish_to_hub

    damaged = shutil.copytree(pki.dir, tmp_path / "pki")
    (damaged / name).write_text("garbage\n")
    with pytest.raises(PressError, match="not a certificate, key and CA that TLS loads") as refused:
        publish_to_hub("cat-feeder", {"v": 1}, 1, str(damaged))
    assert str(damaged / name) in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("name, says", [("broker.crt", "not a PEM certificate"),
                                        ("hub.key", "not a certificate, key and CA that TLS loads")])
def test_the_hub_with_a_damaged_certificate_or_key_is_one_line_and_stops_its_mosquitto(tmp_path, pki, caplog,
                                                                                       capsys, name, says):
    # A ValueError or ssl.SSLError traceback; with hub.key, mosquitto was left running.
    import shutil

    from cloud.hub.__main__ import main as hub_main
    from cloud.hub.processes import free_port

    damaged = shutil.copytree(pki.dir, tmp_path / "pki")
    (damaged / name).write_text("garbage\n")
    data = tmp_path / "hub"
    started = hub_main(["run", "--data-dir", str(data), "--pki", str(damaged), "--port", str(free_port()),
                        "--https-port", str(free_port())])
    said = capsys.readouterr().err.splitlines() + [
        record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert started == 2 and len(said) == 1 and says in said[0] and str(damaged / name) in said[0], said
    assert processes_naming(str(data)) == []


@pytest.mark.parametrize("argv, says", [
    (["hydrate", "--out", "{out}", "--to", "garbage"], "hydrate: refused: time 'garbage': expected ISO-8601"),
    (["replay", "--from", "garbage", "--to", "1", "--rules", "history"], "replay: refused: time 'garbage'"),
    (["incidents", "--to", "1e400"], "hub: incidents: time '1e400': expected ISO-8601 or Unix seconds"),
])
def test_a_bad_time_to_the_hubs_commands_is_one_line(data, tmp_path, capsys, argv, says):
    # A ReplayRefused (hydrate, replay) or OverflowError (incidents) traceback.
    from cloud.hub.__main__ import main as hub_main

    argv = [arg.format(out=tmp_path / "out.sqlite3") for arg in argv] + ["--data-dir", data]
    assert hub_main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(says), line


def test_make_history_with_a_chart_it_cannot_write_or_days_no_device_has_is_one_line(data, capsys):
    # A FileNotFoundError and an OverflowError traceback.
    from cloud import history
    from cloud.hub.projection import SqliteStore

    SqliteStore(os.path.join(data, "history.sqlite3")).close()
    assert history.main(["--data-dir", data, "--png", os.path.join(data, "no-folder", "history.png")]) == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith("history: cannot write the chart ")
    with pytest.raises(SystemExit) as refused:
        history.main(["--data-dir", data, "--from", "0001-01-01"])
    assert refused.value.code == 2
    assert capsys.readouterr().err == ("history: --from, --to: expected days from 1970-01-01 to 2106-02-06,"
                                       " the device's times (see python -m cloud.history --help)\n")


@pytest.mark.parametrize("name, make, says", [
    ("checkpoints.jsonl", os.mkdir, "Is a directory"),
    ("broker", lambda path: open(path, "w").close(), "mosquitto's files in "),
])
def test_a_folder_where_a_file_should_be_or_the_reverse_is_one_line(tmp_path, pki, caplog,
                                                                    capsys, name, make, says):
    # A traceback; with checkpoints.jsonl a folder, mosquitto was left running.
    from cloud.hub.__main__ import main as hub_main
    from cloud.hub.processes import free_port

    data = tmp_path / "hub"
    data.mkdir()
    make(str(data / name))
    started = hub_main(["run", "--data-dir", str(data), "--pki", pki.dir, "--port", str(free_port()),
                        "--https-port", str(free_port())])
    said = capsys.readouterr().err.splitlines() + [
        record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert started == 2 and len(said) == 1 and says in said[0], said
    assert processes_naming(str(data)) == []

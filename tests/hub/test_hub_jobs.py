"""The hub's jobs (cloud/hub/jobs.py) without a broker: the Jobs API's semantics the store keeps
(https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html: the next execution,
VersionMismatch, InvalidStateTransition), `offer`'s refusals, `python -m cloud.hub ota`, and the releases'
HTTPS server with Range and client certificates (a real TLS server on loopback, the development PKI)."""

import http.client
import json
import os
import socket
import ssl

import pytest

from cloud.hub import jobs
from cloud.hub import ledger as ledger_mod
from cloud.hub.__main__ import main as hub_main
from cloud.hub.pki import Pki

DOCUMENT = {"operation": "ota", "version": "1.5.0", "url": "https://localhost:8443/ota/1.5.0/", "files": []}


@pytest.fixture
def store(tmp_path):
    instance = jobs.JobStore(str(tmp_path / jobs.JOBS_FILE), clock=lambda: 1000)
    yield instance
    instance.close()


def test_the_next_execution_is_the_pending_one_and_its_updates_follow_the_jobs_api(store):
    assert store.next("kitchen") is None
    store.queue("kitchen", "job-1", DOCUMENT)
    execution = store.next("kitchen")
    assert (execution["jobId"], execution["status"], execution["versionNumber"]) == ("job-1", "QUEUED", 1)
    assert execution["jobDocument"] == DOCUMENT and store.next("bedroom") is None
    with pytest.raises(jobs.OtaError, match="already has a pending update, job-1"):
        store.queue("kitchen", "job-2", DOCUMENT)

    progress = {"status": "IN_PROGRESS", "statusDetails": {"step": "downloading"}}
    assert store.update("kitchen", "job-1", progress)[:2] == ("QUEUED", "IN_PROGRESS")
    with pytest.raises(jobs.JobRejected) as stale:
        store.update("kitchen", "job-1", dict(progress, expectedVersion=1))
    assert stale.value.code == "VersionMismatch"
    assert store.next("kitchen")["statusDetails"] == {"step": "downloading"}
    for bad in ({"status": "DONE"}, {"status": "FAILED", "statusDetails": {"reason": 3}}, "text"):
        with pytest.raises(jobs.JobRejected) as refused:
            store.update("kitchen", "job-1", bad)
        assert refused.value.code == "InvalidRequest"
    with pytest.raises(jobs.JobRejected) as unknown:
        store.update("bedroom", "job-1", progress)  # another thing's job id is not found for this one
    assert unknown.value.code == "ResourceNotFound"

    assert store.update("kitchen", "job-1", {"status": "SUCCEEDED"})[1] == "SUCCEEDED"
    assert store.next("kitchen") is None
    with pytest.raises(jobs.JobRejected) as terminal:
        store.update("kitchen", "job-1", {"status": "IN_PROGRESS"})
    assert terminal.value.code == "InvalidStateTransition"


def built_release(root, version="1.5.0"):
    folder = os.path.join(root, version)
    os.makedirs(folder)
    for name, body in (("manifest.txt", b"cat-feeder release 1\n"), ("manifest.sig", b"s" * 256),
                       ("app.mpy", bytes(range(256)) * 8)):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(body)
    return str(root)


def test_offer_queues_the_job_copies_the_release_and_records_update_offered(tmp_path):
    data = str(tmp_path / "hub")
    os.makedirs(data)
    ledger_mod.Ledger(os.path.join(data, "ledger.sqlite3")).close()
    releases = built_release(tmp_path / "release")
    document = jobs.offer(data, "kitchen", "1.5.0", releases, "feeder-hub.lan", 8443)
    assert document["url"] == "https://feeder-hub.lan:8443/ota/1.5.0/"
    assert document["files"] == ["manifest.txt", "manifest.sig", "app.mpy"]
    assert os.path.getsize(os.path.join(data, "ota", "1.5.0", "app.mpy")) == 2048
    db = ledger_mod.connect(os.path.join(data, "ledger.sqlite3"), readonly=True)
    (event,) = [event for _, event in ledger_mod.read(db)]
    db.close()
    assert event["detail-type"] == "UpdateOffered"
    assert event["detail"] == {"thing": "kitchen", "job": document["jobId"], "version": "1.5.0", "size": 2325}


def test_make_ota_refuses_in_one_line(tmp_path, capsys):
    data = str(tmp_path / "hub")
    releases = built_release(tmp_path / "release")
    household = tmp_path / "household.json"
    household.write_text(json.dumps({"things": [{"thing": "kitchen"},
                                                {"thing": "hall", "role": "button", "feeds": "kitchen"}]}))

    def ota(thing, version):
        return hub_main(["ota", thing, version, "--data-dir", data, "--releases", releases,
                         "--household", str(household)])

    assert ota("kitchen", "1.5.0") == 2
    assert capsys.readouterr().err == "hub: no hub ledger in %s: start the hub (make hub) first\n" % data
    assert ota("kitchen", "1.6.0") == 2
    assert "make release VERSION=1.6.0 first" in capsys.readouterr().err
    assert ota("kitchen", "1.6") == 2
    assert "expected MAJOR.MINOR.PATCH" in capsys.readouterr().err
    # A thing the household does not name: its job would wait for a board that never comes.
    assert ota("cat-feeder", "1.5.0") == 2
    assert capsys.readouterr().err == (
        "hub: thing: 'cat-feeder' is not in the household file (it names kitchen, hall)\n")
    # A remote button: its policy grants no jobs topics, so its job would never be taken.
    assert ota("hall", "1.5.0") == 2
    assert capsys.readouterr().err == "hub: thing: 'hall' is a button, not a feeder\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp("pki")), "kitchen").ensure()


@pytest.fixture
def server(tmp_path, pki):
    data = str(tmp_path / "hub")
    built_release(os.path.join(data, jobs.RELEASES_DIR))
    instance = jobs.FileServer(data, pki, "127.0.0.1", 0).start()
    yield instance
    instance.stop()


def get(server, pki, path, headers="", identity="kitchen"):
    """The raw HTTP answer over TLS (CERT_REQUIRED, the host name checked), as the device asks."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(pki.cert("ca"))
    if identity is not None:
        device = pki.device(identity)
        context.load_cert_chain(pki.path(device + ".crt"), pki.path(device + ".key"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as stream:
            stream.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n"
                            % (path, headers)).encode())
            answer = b""
            while True:
                chunk = stream.recv(4096)
                if not chunk:
                    break
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), head.decode(), body


def test_the_release_is_served_whole_or_from_a_range_to_the_households_boards_only(server, pki):
    whole = bytes(range(256)) * 8
    status, _, body = get(server, pki, "/ota/1.5.0/app.mpy")
    assert (status, body) == ("HTTP/1.1 200 OK", whole)
    status, head, body = get(server, pki, "/ota/1.5.0/app.mpy", "Range: bytes=1000-\r\n")
    assert (status, body) == ("HTTP/1.1 206 Partial Content", whole[1000:])
    assert "Content-Range: bytes 1000-2047/2048" in head
    assert get(server, pki, "/ota/1.5.0/app.mpy", "Range: bytes=10-19\r\n")[2] == whole[10:20]
    assert get(server, pki, "/ota/1.5.0/app.mpy", "Range: bytes=2048-\r\n")[2] == b""  # all there already
    assert get(server, pki, "/ota/1.5.0/app.mpy", "Range: bytes=3000-\r\n")[0].startswith("HTTP/1.1 416")
    for path in ("/ota/1.5.0/../../ledger.sqlite3", "/ota/1.5.0/missing.mpy", "/ota/x/app.mpy", "/x"):
        assert get(server, pki, path)[0].startswith("HTTP/1.1 404"), path
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        get(server, pki, "/ota/1.5.0/app.mpy", identity=None)  # no client certificate: no handshake


def kept_connection(server, pki):
    """An HTTPS connection as a board's (its certificate, CERT_REQUIRED, the host name checked)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(pki.cert("ca"))
    device = pki.device("kitchen")
    context.load_cert_chain(pki.path(device + ".crt"), pki.path(device + ".key"))
    return http.client.HTTPSConnection("localhost", server.port, context=context, timeout=5)


def test_a_board_fetches_files_and_ranges_over_one_kept_connection(server, pki):
    whole = bytes(range(256)) * 8
    connection = kept_connection(server, pki)
    try:
        for path, wanted, status, body in (("/ota/1.5.0/app.mpy", "bytes=0-999", 206, whole[:1000]),
                                           ("/ota/1.5.0/missing.mpy", "bytes=0-", 404, b"not found"),
                                           ("/ota/1.5.0/app.mpy", "bytes=1000-", 206, whole[1000:])):
            connection.request("GET", path, headers={"Range": wanted})
            answer = connection.getresponse()
            assert (answer.status, answer.read()) == (status, body)
            assert not answer.will_close  # HTTP/1.1, an exact Content-Length: the connection kept
        assert server.connections == 1
    finally:
        connection.close()


def test_a_kept_connection_idle_for_idle_s_is_closed_by_the_server(tmp_path, pki):
    data = str(tmp_path / "hub")
    built_release(os.path.join(data, jobs.RELEASES_DIR))
    server = jobs.FileServer(data, pki, "127.0.0.1", 0, idle_s=0.3).start()
    connection = kept_connection(server, pki)
    try:
        connection.request("GET", "/ota/1.5.0/app.mpy")
        assert connection.getresponse().read() == bytes(range(256)) * 8
        connection.sock.settimeout(5)
        assert connection.sock.recv(1) == b""  # closed (within 5 s), a board goes on over a new one
    finally:
        connection.close()
        server.stop()


def test_a_device_update_becomes_the_ledgers_events_and_the_answers_topics(tmp_path, pki):
    data = str(tmp_path / "hub")
    os.makedirs(data)
    ledger_path = os.path.join(data, "ledger.sqlite3")
    ledger_mod.Ledger(ledger_path).close()
    document = jobs.offer(data, "kitchen", "1.5.0", built_release(tmp_path / "release"), "localhost", 8443)
    service = jobs.JobService(data, pki, "127.0.0.1", 1, ledger_path, lambda: None, None)
    published = []
    service._publish = lambda topic, message: published.append((topic, message))  # no broker here
    prefix = "$aws/things/kitchen/jobs/"
    service.handle(prefix + "$next/get", b'{"clientToken": "t1"}')
    assert published[-1][0] == prefix + "$next/get/accepted"
    answer = published[-1][1]
    assert answer["execution"]["jobId"] == document["jobId"] and answer["clientToken"] == "t1"
    job = prefix + document["jobId"] + "/update"
    for status, details in (("IN_PROGRESS", {"step": "downloading"}), ("IN_PROGRESS", {"step": "staged"}),
                            ("FAILED", {"reason": "rolled back: running 1.4.0"})):
        service.handle(job, json.dumps({"status": status, "statusDetails": details}).encode())
    service.handle(job, b"not json")
    assert [topic for topic, _ in published[1:]] == [job + "/accepted"] * 3 + [
        prefix + "notify-next", job + "/rejected"]
    assert "execution" not in published[-2][1]  # nothing pending any more
    db = ledger_mod.connect(ledger_path, readonly=True)
    kinds = [(event["detail-type"], event["detail"].get("reason")) for _, event in ledger_mod.read(db)]
    db.close()
    service.ledger.close()
    service.store.close()
    assert kinds == [("UpdateOffered", None), ("UpdateStarted", None),
                     ("UpdateRolledBack", "rolled back: running 1.4.0")]


def test_make_ota_without_thing_offers_to_the_households_first_feeder(tmp_path, capsys):
    """`make ota VERSION=1.5.0`, as `make press` and `make schedule`: the household's first feeder, not a
    `cat-feeder` the household file may not name."""
    data = str(tmp_path / "hub")
    os.makedirs(data)
    ledger_mod.Ledger(os.path.join(data, "ledger.sqlite3")).close()
    household = tmp_path / "household.json"
    household.write_text(json.dumps({"things": [{"thing": "hall", "role": "button", "feeds": "kitchen"},
                                                {"thing": "kitchen"}, {"thing": "bedroom"}]}))
    assert hub_main(["ota", "1.5.0", "--data-dir", data, "--releases", built_release(tmp_path / "release"),
                     "--household", str(household)]) == 0
    assert capsys.readouterr().out.startswith("ota: kitchen offered 1.5.0 as job ")

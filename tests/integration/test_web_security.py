"""The page's guards over HTTP, against a running hub and mosquitto (no device needed): CSRF, the LAN
token, the press rate limit, refusals to start, and hostile input to every data endpoint."""

import json
import time

import pytest

from cloud.hub import ledger as ledger_mod
from rigs.device import wait_for
from rigs.web import WebServer
from tests.integration.web_client import PageClient

TOKEN = "correct horse battery staple"


def web_args(hub, pki, broker, *extra):
    return ("--data-dir", hub.data_dir, "--pki", pki.dir, "--broker-port", broker.port, *extra)


@pytest.fixture
def web(hub, pki, broker, tmp_path):
    server = WebServer(
        *web_args(hub, pki, broker, "--press-limit", "2/60"), log_path=str(tmp_path / "web.log")
    )
    yield server.start()
    server.stop()


def presses_in_ledger(hub):
    db = ledger_mod.connect(hub.ledger_path, readonly=True)
    try:
        return [e for _, e in ledger_mod.read(db) if e["detail-type"] == "FeedRequested"]
    finally:
        db.close()


def test_a_press_without_the_csrf_token_or_session_is_refused_and_feeds_nothing(web, hub):
    client = PageClient(web.url)
    status, page = client.open_page()
    assert status == 200 and client.csrf and b"Feed the left bowl" in page
    status, _, body = client.press(csrf=False)
    assert status == 403 and "CSRF" in body["error"]
    status, _, body = client.press(**{"X-CSRF-Token": "0" * 64})
    assert status == 403 and "CSRF" in body["error"]
    status, _, body = client.press(Origin="http://evil.example")
    assert status == 403 and "cross-origin" in body["error"]
    stranger = PageClient(web.url)  # no session cookie at all
    stranger.csrf = client.csrf
    status, _, body = stranger.press()
    assert status == 401
    assert presses_in_ledger(hub) == []
    status, headers, body = client.press()
    assert status == 202, body
    assert body["press_id"].startswith("press-") and body["event"] == "SINGLE"
    wait_for(lambda: presses_in_ledger(hub), 10, "the press in the ledger")
    assert [e["detail"]["press_id"] for e in presses_in_ledger(hub)] == [body["press_id"]]
    assert headers["content-security-policy"].startswith("default-src 'self'")


def test_the_press_rate_limit_holds(web, hub):
    client = PageClient(web.url)
    client.open_page()
    assert [client.press(event)[0] for event in ("SINGLE", "DOUBLE")] == [202, 202]
    status, headers, body = client.press("LONG")
    assert status == 429 and "too many presses" in body["error"] and int(headers["retry-after"]) >= 1
    other = PageClient(web.url)  # a second browser shares the feeder's budget
    other.open_page()
    assert other.press("LONG")[0] == 429
    # A 202 means the broker has the press (PUBACK); the hub commits it an instant later.
    wait_for(lambda: len(presses_in_ledger(hub)) >= 2, 10, "two presses in the ledger")
    time.sleep(0.3)
    assert sorted(e["detail"]["event"] for e in presses_in_ledger(hub)) == ["DOUBLE", "SINGLE"]


@pytest.mark.parametrize(
    "args, refusal",
    [
        (("--lan", "--bind", "0.0.0.0"), "--lan needs a token"),
        (("--bind", "0.0.0.0"), "add --lan"),
        (("--lan", "--token-file", "/nonexistent/token"), "--token-file /nonexistent/token"),
        (("--press-limit", "lots"), "COUNT/SECONDS"),
    ],
)
def test_unsafe_or_bad_starts_are_refused(hub, pki, broker, args, refusal):
    status, output = WebServer(*web_args(hub, pki, broker, *args), env={"FEEDER_WEB_TOKEN": ""}).run_to_exit()
    assert status == 2 and "refused to start" in output and refusal in output, output
    assert "Traceback" not in output


def test_a_short_lan_token_is_refused(hub, pki, broker):
    status, output = WebServer(
        *web_args(hub, pki, broker, "--lan"), env={"FEEDER_WEB_TOKEN": "short"}
    ).run_to_exit()
    assert status == 2 and "at least 12 characters" in output


def test_lan_mode_asks_for_the_token_first(hub, pki, broker, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    server = WebServer(
        *web_args(hub, pki, broker, "--lan", "--token-file", token_file), env={"FEEDER_WEB_TOKEN": ""}
    )
    server.start()
    try:
        client = PageClient(server.url)
        status, page = client.open_page()
        assert status == 200 and b'type="password"' in page and b"Feed the left bowl" not in page
        assert client.request("GET", "/api/state")[0] == 401
        assert client.press()[0] == 401
        form = "csrf=%s&token=%s"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, body = client.request("POST", "/login", form % (client.csrf, "wrong+token+here"), headers)
        assert status == 401 and body["error"] == "wrong token"
        status, _, body = client.request(
            "POST", "/login", form % ("0" * 64, TOKEN.replace(" ", "+")), headers
        )
        assert status == 403
        status, got, _ = client.request(
            "POST", "/login", form % (client.csrf, TOKEN.replace(" ", "+")), headers
        )
        assert status == 303 and got["location"] == "/"
        status, page = client.open_page()
        assert b"Feed the left bowl" in page
        assert client.request("GET", "/api/state")[0] == 200
        assert client.press()[0] == 202
    finally:
        server.stop()


def test_hostile_input_gets_clear_errors(web, hub):
    client = PageClient(web.url)
    client.open_page()
    json_headers = {"Content-Type": "application/json", "X-CSRF-Token": client.csrf}
    press_cases = [
        (b"{not json", json_headers, 400, "not JSON"),
        (b"[1, 2]", json_headers, 400, "expected {"),
        (json.dumps({"event": "SINGLE", "bowls": ["left"] * 3}).encode(), json_headers, 400, "nothing else"),
        (json.dumps({"event": "TRIPLE"}).encode(), json_headers, 400, "SINGLE, DOUBLE or LONG"),
        (json.dumps({"event": ["SINGLE"]}).encode(), json_headers, 400, "SINGLE, DOUBLE or LONG"),
        (json.dumps({"event": None}).encode(), json_headers, 400, "SINGLE, DOUBLE or LONG"),
        (json.dumps({"event": "SINGLE", "thing": "attic"}).encode(), json_headers, 400,
         'thing: expected the feeder to feed, one of cat-feeder; got "attic"'),
        (json.dumps({"event": "SINGLE", "thing": ["cat-feeder"]}).encode(), json_headers, 400, "thing: exp"),
        (b"\xff\xfe\x00garbage", json_headers, 400, "not JSON"),
        (b'{"event": "' + b"A" * 5000 + b'"}', json_headers, 413, "at most 1024 bytes"),
        (b'{"event": "SINGLE"}', {**json_headers, "Content-Type": "text/plain"}, 415, "application/json"),
    ]
    for body, headers, status, message in press_cases:
        got_status, _, got = client.request("POST", "/api/press", body, headers)
        assert (got_status, message in got["error"]) == (status, True), (body[:40], got_status, got)
    get_cases = [
        ("/api/history?from=yesterday", 400, "from: expected a day as YYYY-MM-DD"),
        ("/api/history?thing=attic", 400, 'thing: not a feeder of the household: "attic"'),
        ("/api/history?from=2026-02-30", 400, "from: expected a day"),
        ("/api/history?to=" + "9" * 5000, 400, "to: expected a day"),
        ("/api/history?from=2026-11-20&to=2026-11-01", 400, "from must not be after to"),
        ("/api/history?from=2020-01-01&to=2026-11-01", 400, "at most 366 days"),
        ("/api/history?from=2026-11-01&drop=table", 400, "unknown parameter drop"),
        ("/api/history?from=2026-13-01", 400, "from: expected a day"),
        ("/api/presses/..%2F..%2Fetc%2Fpasswd", 404, "Not Found: GET /api/presses/../../etc/passwd"),
        ("/static/..%2F..%2Fapp.py", 404, "Not Found"),
        ("/api/presses/press-' OR 1=1 --".replace(" ", "%20"), 400, "press id"),
        ("/api/presses/press-0000000000000000", 404, "no press press-0000000000000000"),
    ]
    for path, status, message in get_cases:
        got_status, _, got = client.request("GET", path)
        assert got_status == status and message in got["error"], (path[:60], got_status, got)
    status, _, got = client.request("DELETE", "/api/press")
    assert status == 405 and "Method Not Allowed" in got["error"]
    status, _, got = client.request("DELETE", "/api/press")
    assert status == 405 and "Method Not Allowed" in got["error"]
    assert presses_in_ledger(hub) == []
    # The server is still well after all of it.
    status, _, history = client.request("GET", "/api/history")
    assert status == 200 and history["presses"] == []
    status, _, state = client.request("GET", "/api/state")
    assert status == 200 and state["feeders"][0]["recent"] == []


def test_a_press_with_the_hub_stopped_says_so_in_a_households_words(hub, pki, tmp_path):
    from cloud.hub.processes import free_port

    log_path = tmp_path / "web.log"
    server = WebServer("--data-dir", hub.data_dir, "--pki", pki.dir, "--broker-port", free_port(),
                       log_path=str(log_path))
    server.start()
    try:
        client = PageClient(server.url)
        client.open_page()
        status, _, body = client.press()
    finally:
        server.stop()
    assert status == 502 and body["error"] == (
        "The feeder hub is not answering: check that it is running, then press again."
    )
    assert "no broker listening" in body["detail"]  # the cause: for the Details toggle, and in the log
    assert "no broker listening" in log_path.read_text()


def test_on_every_interface_the_address_to_open_is_said_not_0000(hub, pki, broker, tmp_path):
    """README's LAN line: `make web WEB_ARGS="--lan --bind 0.0.0.0"` printed http://0.0.0.0:8080/, which no
    phone can open."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    server = WebServer(*web_args(hub, pki, broker, "--lan", "--bind", "0.0.0.0", "--token-file", token_file),
                       env={"FEEDER_WEB_TOKEN": ""}, log_path=str(tmp_path / "web.log"))
    server.start()
    try:
        assert "web: http://<this machine's address>:%d/ (hub " % server.port in server.output()
        assert "0.0.0.0" not in server.output()
    finally:
        server.stop()


def test_a_reason_that_is_no_text_in_an_older_ledgers_history_is_served_not_a_500(pki, tmp_path):
    # Before the states handler refused it (docs/protocol.md: JSON is RFC 8259's in UTF-8), a result's
    # reason "\ud800" reached the history; every answer holding it failed UTF-8 encoding: a 500 on
    # /api/state, /api/history and the press, for good. The page sends JSON in ASCII (escapes) instead.
    from cloud.handlers.projector import project
    from cloud.hub.projection import SqliteStore
    from rigs.hubdata import press_event, result_event

    data = tmp_path / "hub"
    data.mkdir()
    ledger_mod.Ledger(str(data / "ledger.sqlite3")).close()
    now = int(time.time())
    press = press_event(1, at=now)
    press_id = press["detail"]["press_id"]
    store = SqliteStore(str(data / "history.sqlite3"))
    for event in (press, result_event(1, press_id, "rejected", now, reason="servo \ud800")):
        project(store, event)
    store.close()
    server = WebServer("--data-dir", str(data), "--pki", pki.dir, "--broker-port", 1,
                       log_path=str(tmp_path / "web.log")).start()
    try:
        client = PageClient(server.url)
        client.open_page()
        answers = [client.request("GET", path) for path in ("/api/state", "/api/history",
                                                            "/api/presses/" + press_id)]
    finally:
        server.stop()
    assert [status for status, _, _ in answers] == [200] * 3, answers
    assert answers[2][2]["reason"] == "servo \ud800"  # as JSON's escape, which the page's JSON.parse reads
    assert answers[0][2]["feeders"][0]["recent"][0]["reason"] == "servo \ud800"

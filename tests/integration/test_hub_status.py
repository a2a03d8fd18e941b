"""`python -m cloud.hub status` (cloud/hub/status.py) against a running hub, a stopped one and a broker
that is down: JSON and plain lines, exit 1 when something needs attention; the page's GET /api/status
answers the same report."""

import json
import time

from cloud.hub.__main__ import main
from cloud.hub.hub import Hub
from rigs.web import WebServer
from tests.integration.web_client import PageClient

BUTTON = "cat-feeder/cat-feeder/button"


def status(capsys, data_dir, pki, port, *extra):
    code = main(["status", "--data-dir", str(data_dir), "--pki", pki.dir, "--broker-port", str(port), *extra])
    out = capsys.readouterr().out
    return code, (json.loads(out) if "--json" in extra else out.splitlines())


def test_status_of_a_running_then_stopped_hub_and_a_broker_down(pki, broker, mqtt, tmp_path, capsys):
    data_dir = tmp_path / "hub"
    hub = Hub(str(data_dir), pki, "127.0.0.1", broker.port).start()
    try:
        device = mqtt("device", client_id="cat-feeder")
        for seq in range(3):
            device.publish(
                BUTTON, json.dumps({"v": 1, "event": "SINGLE", "at": int(time.time()), "seq": seq}), 1
            )
        deadline = time.monotonic() + 10
        while not (
            hub.delivered() and hub.ledger.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert main(["backup", str(tmp_path / "backups"), "--data-dir", str(data_dir)]) == 0
        capsys.readouterr()
        code, report = status(capsys, data_dir, pki, broker.port, "--json")
        assert code == 0, report
        assert report["ok"] and report["broker"] == "up" and report["hub_reporting"]
        assert report["ingest_stalled"] is None and report["ingest_pending"] == 0
        assert report["events"] == 3 and set(report["cursors_behind"].values()) == {0}
        assert report["dead_letters"] == 0 and report["disk_free_bytes"] > 0
        assert report["last_backup"]["length"] == 3
    finally:
        hub.stop()
    code, lines = status(capsys, data_dir, pki, broker.port)
    assert code == 1
    assert lines[0] == "status: PROBLEM" and "ingest: not reporting (stopped?)" in lines
    assert lines[1] == "broker: up"
    assert any(line.startswith("last checkpoint: seq 3 at ") for line in lines)  # the clean stop's
    assert any(line.startswith("last backup: 3 events at ") for line in lines)
    assert "dead letters: 0" in lines and any(line.startswith("disk free: ") for line in lines)
    broker.stop()
    code, report = status(capsys, data_dir, pki, broker.port, "--json")
    assert code == 1 and report["broker"].startswith("down") and report["last_checkpoint"]["length"] == 3


def test_the_pages_api_status_is_the_status_commands_report_behind_the_same_session(
    pki, broker, hub, tmp_path, capsys
):
    server = WebServer(
        "--data-dir", hub.data_dir, "--pki", pki.dir, "--broker-port", broker.port,
        log_path=str(tmp_path / "web.log"),
    ).start()
    try:
        status_code, _, body = PageClient(server.url).request("GET", "/api/status")  # no session cookie
        assert status_code == 401 and "not signed in" in body["error"]
        client = PageClient(server.url)
        client.open_page()
        status_code, headers, page_report = client.request("GET", "/api/status")
    finally:
        server.stop()
    code, command_report = status(capsys, hub.data_dir, pki, broker.port, "--json")
    assert status_code == 200 and headers["cache-control"] == "no-store"
    assert page_report["ok"] and page_report["broker"] == "up" and page_report["hub_reporting"]
    volatile = ("disk_free_bytes", "ingest_lag_s")
    assert {k: v for k, v in page_report.items() if k not in volatile} == {
        k: v for k, v in command_report.items() if k not in volatile
    }

"""Every command that needs AWS credentials says so in one line, as `make deploy` does
(cloud/aws/session.py: AwsEnv.from_args checks, explain words it), and the page refuses to start without them
instead of serving errors. Run as a newcomer would: no AWS_* variables, HOME an empty folder."""

import socket

import pytest

from cloud.hub.processes import free_port
from tests.makerun import make, own_lines, without_aws_credentials

HINT = ("no AWS credentials: set AWS_PROFILE (or %s=--profile NAME), or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, or run `aws configure`")


@pytest.mark.parametrize("variables, line", [
    (["history", "HISTORY_ARGS=--aws"], "history: " + HINT % "HISTORY_ARGS"),
    (["replay", "FROM=2026-11-01T00:00:00Z", "TO=2026-11-02T00:00:00Z", "RULES=history"],
     "replay: " + HINT % "DEPLOY_ARGS"),
    (["hydrate", "TO=2026-11-02T00:00:00Z"], "hydrate: " + HINT % "DEPLOY_ARGS"),
    (["press", "EVENT=SINGLE", "VIA=aws"], "press: " + HINT % "DEPLOY_ARGS"),
    (["schedule", "VIA=aws"], "schedule: " + HINT % "DEPLOY_ARGS"),
    (["schedule", "ARGS=pause", "VIA=aws"], "schedule: " + HINT % "DEPLOY_ARGS"),
    (["ota", "VIA=aws", "THING=cat-feeder", "VERSION=1.4.0"], "ota: " + HINT % "DEPLOY_ARGS"),
    (["web", "WEB_ARGS=--aws --port %d" % free_port()], "web: refused to start: " + HINT % "WEB_ARGS"),
])
def test_no_credentials_is_one_line(tmp_path, variables, line):
    done = make(*variables, env=without_aws_credentials(tmp_path), timeout=60)
    assert done.returncode != 0
    assert own_lines(done.stderr) == [line], done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_make_web_on_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = make("web", "WEB_ARGS=--port %d --data-dir %s" % (port, tmp_path), timeout=60)
    assert done.returncode != 0
    assert own_lines(done.stderr) == [
        'web: refused to start: port %d on 127.0.0.1 is in use by another program (another make web?): '
        'stop it, or pass WEB_ARGS="--port N"' % port], done.stderr
    assert "http://" not in done.stdout + done.stderr

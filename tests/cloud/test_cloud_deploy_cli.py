"""`make deploy` / `plan` / `destroy` as a newcomer meets them: the next step after a deploy, and one
actionable line (no traceback) when the credentials are missing, with nothing created."""

import os

import pytest

from tests.makerun import make, own_lines, without_aws_credentials


def test_deploy_ends_with_the_thing_its_certificates_and_the_next_command(aws, tmp_path):
    out = tmp_path / "out"
    done = make("deploy", "DEPLOY_ARGS=--endpoint-url %s --out %s" % (aws, out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == [
        "Thing cat-feeder: certificate, key and endpoint in %s/cat-feeder/ "
        "(device.crt.pem, device.key.pem, device.json)." % out,
        "Next: make flash PORT=/dev/ttyACM0 CERTS=%s/cat-feeder" % out,
    ]
    assert sorted(os.listdir(out / "cat-feeder")) == ["device.crt.pem", "device.json", "device.key.pem"]


@pytest.mark.parametrize("target", ["deploy", "plan", "destroy"])
def test_no_credentials_is_one_line_and_nothing_is_created(tmp_path, target):
    env = without_aws_credentials(tmp_path)
    out = tmp_path / "out"
    done = make(target, "DEPLOY_ARGS=--out %s" % out, env=env)
    assert done.returncode != 0
    assert own_lines(done.stderr) == [
        "deploy: no AWS credentials: set AWS_PROFILE (or DEPLOY_ARGS=--profile NAME), or AWS_ACCESS_KEY_ID "
        "and AWS_SECRET_ACCESS_KEY, or run `aws configure`"
    ]
    assert not out.exists()


def test_an_unknown_profile_is_one_line(tmp_path):
    env = without_aws_credentials(tmp_path)
    done = make("plan", "DEPLOY_ARGS=--profile kitchen", env=env)
    (line,) = own_lines(done.stderr)
    assert line.startswith("deploy: The config profile (kitchen) could not be found: name a profile"), line

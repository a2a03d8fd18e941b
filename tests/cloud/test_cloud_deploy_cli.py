"""`make deploy` / `plan` / `destroy` as a newcomer meets them: the next step after a deploy, and one
actionable line (no traceback) when the credentials are missing, with nothing created."""

import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make(target, env, deploy_args):
    return subprocess.run(
        ["make", "-s", target, "DEPLOY_ARGS=%s" % deploy_args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def own_lines(stderr):
    return [line for line in stderr.splitlines() if not line.startswith("make: ***")]


def test_deploy_ends_with_the_thing_its_certificates_and_the_next_command(aws, tmp_path):
    out = tmp_path / "out"
    done = make("deploy", dict(os.environ), "--endpoint-url %s --out %s" % (aws, out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == [
        "Thing cat-feeder: certificate, key and endpoint in %s/cat-feeder/ "
        "(device.crt.pem, device.key.pem, device.json)." % out,
        "Next: make flash PORT=/dev/ttyACM0 CERTS=%s/cat-feeder" % out,
    ]
    assert sorted(os.listdir(out / "cat-feeder")) == ["device.crt.pem", "device.json", "device.key.pem"]


@pytest.mark.parametrize("target", ["deploy", "plan", "destroy"])
def test_no_credentials_is_one_line_and_nothing_is_created(tmp_path, target):
    none = str(tmp_path / "none")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": none,
        "AWS_SHARED_CREDENTIALS_FILE": none,
    }
    out = tmp_path / "out"
    done = make(target, env, "--out %s" % out)
    assert done.returncode != 0
    assert own_lines(done.stderr) == [
        "deploy: no AWS credentials: set AWS_PROFILE (or DEPLOY_ARGS=--profile NAME), or AWS_ACCESS_KEY_ID "
        "and AWS_SECRET_ACCESS_KEY, or run `aws configure`"
    ]
    assert not out.exists()


def test_an_unknown_profile_is_one_line(tmp_path):
    none = str(tmp_path / "none")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": none,
        "AWS_SHARED_CREDENTIALS_FILE": none,
    }
    done = make("plan", env, "--profile kitchen")
    (line,) = own_lines(done.stderr)
    assert line.startswith("deploy: The config profile (kitchen) could not be found: name a profile"), line

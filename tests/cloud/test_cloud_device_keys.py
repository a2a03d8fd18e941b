"""The device's private key, which AWS returns only once, against moto's server: written atomically before
the certificate is attached, rolled back when it cannot be written, and an orphan certificate replaced."""

import json
import os
import stat

import boto3
import pytest

from cloud.aws import credentials, deploy
from cloud.aws.session import AwsEnv
from tests.cloud.envs import REGION, env_for, run


def iot(url):
    return boto3.client("iot", endpoint_url=url, region_name=REGION)


def test_a_key_that_cannot_be_written_rolls_the_certificate_back_and_the_next_run_recovers(aws, tmp_path):
    unwritable = tmp_path / "not-a-folder"
    unwritable.write_text("a file where the output folder should be")
    with pytest.raises(OSError):
        run(deploy.apply, env_for(aws, unwritable))
    assert iot(aws).list_certificates()["certificates"] == []  # no certificate without its key
    assert iot(aws).list_thing_principals(thingName="cat-feeder")["principals"] == []

    out = tmp_path / "out"
    applied = run(deploy.apply, env_for(aws, out))
    assert "create    iot certificate of thing cat-feeder" in applied
    device = json.loads((out / "cat-feeder" / "device.json").read_text())
    (certificate,) = iot(aws).list_certificates()["certificates"]
    assert certificate["certificateId"] == device["certificate_id"] and certificate["status"] == "ACTIVE"
    key = out / "cat-feeder" / "device.key.pem"
    assert "PRIVATE KEY" in key.read_text() and stat.S_IMODE(os.stat(key).st_mode) == 0o600


def test_a_certificate_whose_key_is_not_here_is_replaced_and_revoked(aws, tmp_path):
    run(deploy.apply, env_for(aws, tmp_path))
    folder = tmp_path / "cat-feeder"
    orphan = json.loads((folder / "device.json").read_text())["certificate_id"]
    (folder / "device.key.pem").unlink()  # lost: the thing's certificate can never be used again

    assert run(deploy.plan, env_for(aws, tmp_path))[:-1] == [
        "update    iot certificate of thing cat-feeder (key_here)"
    ]
    calls = []
    aws_env = AwsEnv(region=REGION, endpoint_url=aws)
    aws_env.session.events.register(
        "before-parameter-build.iot.UpdateCertificate", lambda params, **kwargs: calls.append(params)
    )
    env = deploy.DeployEnv(aws_env, out_dir=tmp_path)
    env.__dict__["iot_data_endpoint"] = env_for(aws, tmp_path).iot_data_endpoint
    assert run(deploy.apply, env) == [
        "update    iot certificate of thing cat-feeder (key_here)",
        "Applied 1 changes.",
    ]

    device = json.loads((folder / "device.json").read_text())
    assert device["certificate_id"] != orphan and (folder / "device.key.pem").is_file()
    assert calls == [{"certificateId": orphan, "newStatus": "REVOKED"}]
    principals = iot(aws).list_thing_principals(thingName="cat-feeder")["principals"]
    assert [p.rsplit("/", 1)[-1] for p in principals] == [device["certificate_id"]]
    assert [c["certificateId"] for c in iot(aws).list_certificates()["certificates"]] == [
        device["certificate_id"]
    ]
    assert run(deploy.plan, env_for(aws, tmp_path))[-1].startswith("Nothing to change")


def test_an_interrupted_key_write_leaves_the_previous_key_whole_and_no_temporary_file(tmp_path, monkeypatch):
    key = tmp_path / "device.key.pem"
    credentials.write_atomically(key, "old key", 0o600)

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        credentials.write_atomically(key, "new key", 0o600)
    assert key.read_text() == "old key" and os.listdir(tmp_path) == ["device.key.pem"]
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600

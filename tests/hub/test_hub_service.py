"""`python -m cloud.hub install` / `uninstall` (cloud/hub/service.py): the systemd units for the hub and
the page, rendered into a folder and checked with `systemd-analyze verify` where it exists."""

import shutil
import subprocess
import sys

import pytest

from cloud.hub import service
from rigs.hubdata import ROOT


def hub_command(*args):
    return subprocess.run(
        [sys.executable, "-m", "cloud.hub", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def unit(text):
    """{key: [values]} of a unit file."""
    keys = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            keys.setdefault(key, []).append(value)
    return keys


def test_install_writes_both_units_and_uninstall_removes_them(tmp_path):
    state = tmp_path / "state"
    installed = hub_command(
        "install",
        "--unit-dir",
        str(tmp_path),
        "--no-systemctl",
        "--state-dir",
        str(state),
        "--hub-args",
        "--bind 0.0.0.0 --host-name 'feeder hub.lan' --host-name 100%$HOME",
    )
    assert installed.returncode == 0, installed.stderr
    hub = unit((tmp_path / service.HUB_UNIT).read_text())
    web = unit((tmp_path / service.WEB_UNIT).read_text())
    for keys in (hub, web):
        assert keys["Restart"] == ["on-failure"] and keys["User"] == [service.DEFAULT_USER]
        assert keys["StandardOutput"] == ["journal"] and keys["ReadWritePaths"] == [str(state)]
        assert keys["WorkingDirectory"] == [ROOT]
    # Quoted as systemd unquotes; its % specifiers and $ variables escaped, so the hub gets them as typed.
    assert hub["ExecStart"] == [
        "{} -m cloud.hub run --data-dir {}/hub --pki {}/pki --bind 0.0.0.0 --host-name 'feeder hub.lan'"
        " --host-name '100%%$$HOME'".format(sys.executable, state, state)
    ]
    assert hub["KillMode"] == ["mixed"]  # the hub stops its mosquitto itself, after its checkpoint
    assert web["ExecStart"][0].startswith("%s -m web --data-dir %s/hub" % (sys.executable, state))
    assert web["After"] == ["network-online.target " + service.HUB_UNIT]
    removed = hub_command("uninstall", "--unit-dir", str(tmp_path), "--no-systemctl")
    assert removed.returncode == 0 and not list(tmp_path.glob("*.service"))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_the_units_pass_systemd_analyze_verify(tmp_path):
    for name, text in service.render(str(tmp_path / "state"), hub_args="--bind 0.0.0.0").items():
        (tmp_path / name).write_text(text)
    checked = subprocess.run(
        ["systemd-analyze", "verify", *(str(path) for path in sorted(tmp_path.glob("*.service")))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr

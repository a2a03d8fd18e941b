"""systemd units for the hub and the household page: `python -m cloud.hub install` / `uninstall`
(`make install` / `make uninstall`), as root on the machine that runs them.

    install   [--state-dir /var/lib/cat-feeder] [--user cat-feeder] [--unit-dir /etc/systemd/system]
              [--hub-args "--bind 0.0.0.0 --host-name feeder-hub.lan"] [--web-args "--lan --bind 0.0.0.0"]
              [--no-systemctl]
    uninstall [--unit-dir /etc/systemd/system] [--no-systemctl]

- both run this checkout's interpreter (sys.executable) from the checkout, as a dedicated system
  user (created when missing), with the data and the PKI in the state directory;
- Restart=on-failure; logs go to journald (`journalctl -u cat-feeder-hub`), which rotates them;
- the hub is stopped with SIGTERM to its main process only (KillMode=mixed): it stops cleanly
  (its checkpoint) and then stops its mosquitto itself, which saves its persistence;
- `uninstall` stops, disables and removes the units; the state directory and the user stay.
"""

import os
import pwd
import shlex
import shutil
import subprocess
import sys

HUB_UNIT = "cat-feeder-hub.service"
WEB_UNIT = "cat-feeder-web.service"
DEFAULT_USER = "cat-feeder"
DEFAULT_STATE_DIR = "/var/lib/cat-feeder"
DEFAULT_UNIT_DIR = "/etc/systemd/system"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SERVICE = """[Unit]
Description={description}
Documentation=file://{repo}/cloud/hub/README.md
After=network-online.target{after}
Wants=network-online.target{after}

[Service]
Type=simple
User={user}
Group={user}
WorkingDirectory={repo}
ExecStart={exec_start}
Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec=5
KillMode=mixed
TimeoutStopSec=30
StandardOutput=journal
StandardError=journal
SyslogIdentifier={identifier}
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full
ReadWritePaths={state_dir}

[Install]
WantedBy=multi-user.target
"""


def _command_line(argv):
    """ExecStart= text: shell-like quoting, which systemd undoes, with its specifiers (%) and
    variables ($) escaped so an argument reaches the program as written."""
    return shlex.join(argv).replace("%", "%%").replace("$", "$$")


def render(state_dir=DEFAULT_STATE_DIR, user=DEFAULT_USER, hub_args="", web_args="", python=sys.executable):
    """{unit file name: text} for the hub and the page."""
    data, pki = os.path.join(state_dir, "hub"), os.path.join(state_dir, "pki")
    common = [python, "-m"]
    shared = ["--data-dir", data, "--pki", pki]
    hub = common + ["cloud.hub", "run"] + shared + shlex.split(hub_args)
    web = common + ["web"] + shared + shlex.split(web_args)
    values = {"repo": REPO, "user": user, "state_dir": state_dir}
    return {
        HUB_UNIT: SERVICE.format(
            description="Cat feeder hub: mosquitto, the ledger and the rules",
            after="",
            exec_start=_command_line(hub),
            identifier="cat-feeder-hub",
            **values,
        ),
        WEB_UNIT: SERVICE.format(
            description="Cat feeder household page",
            after=" " + HUB_UNIT,
            exec_start=_command_line(web),
            identifier="cat-feeder-web",
            **values,
        ),
    }


def install(units, unit_dir=DEFAULT_UNIT_DIR, state_dir=DEFAULT_STATE_DIR, user=DEFAULT_USER, systemctl=True):
    """Write the units; with systemctl, also the user, the state directory, and enable --now."""
    os.makedirs(unit_dir, exist_ok=True)
    for name, text in units.items():
        with open(os.path.join(unit_dir, name), "w") as f:
            f.write(text)
    if not systemctl:
        return
    _ensure_user(user, state_dir)
    _systemctl("daemon-reload")
    _systemctl("enable", "--now", *units)


def uninstall(unit_dir=DEFAULT_UNIT_DIR, systemctl=True):
    """Stop, disable and remove the units; returns the files removed."""
    names = [name for name in (WEB_UNIT, HUB_UNIT) if os.path.exists(os.path.join(unit_dir, name))]
    if systemctl and names:
        _systemctl("disable", "--now", *names)
    for name in names:
        os.remove(os.path.join(unit_dir, name))
    if systemctl and names:
        _systemctl("daemon-reload")
    return names


def _ensure_user(user, state_dir):
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--home-dir", state_dir, "--shell", "/usr/sbin/nologin", user], check=True
        )
    os.makedirs(state_dir, mode=0o750, exist_ok=True)
    shutil.chown(state_dir, user, user)


def _systemctl(*args):
    subprocess.run(["systemctl", *args], check=True)

"""Run the firmware on MicroPython's unix port against the local broker, so anyone can watch it work.

    python -m tools.device run [--hub | --port BROKER_PORT] [--flash DIR] [--heapsize 128K] [--fresh]

`make device` runs this: alone, it starts a private broker (cloud.hub.broker, mutual TLS) on a free port
and stops it on exit, so presses from it reach no hub. `make device HUB=1` (--hub) joins the running
hub (`make hub`) on 127.0.0.1:8883, `BROKER_PORT=N` (--port) a hub or broker on another port; then
its presses go to the hub's ledger and its page, as a board's would.

Each has its own flash folder (default .flash/device alone, .flash/device-hub on a hub), as two
boards would: the device numbers its results (seq) across its whole life, so results numbered on the
private broker would show on the hub as results it never received (the page's "seq gaps").
The folder --flash acts as the board's flash (git-ignored):

    *.mpy                the firmware, compiled as on the board (`prepare_flash` copies source by default)
    certs/*.der          CA, device certificate and key from the development PKI (.pki/)
    config.json          thing, mqtt (localhost:<port>, the DER paths), servos, a button on GPIO5, ...;
                         `sim.trace`, `sim.button`
    servo.trace          one "<ticks_us> <pin> <duty_ns>" line per PWM write
    button.level         the virtual button: `python -m tools.sim_board --flash DIR --press SINGLE`
    data/                journal, outbox and the button's press queue (kept; --fresh wipes them)

The firmware's output (connects, drops, errors, presses) goes to this terminal. Send a command with
    python -m tools.mqttc pub --port N --topic cat-feeder/cat-feeder/action --message '{"v":1,...}'
and watch results with
    python -m tools.mqttc sub --as observer --port N --topic cat-feeder/cat-feeder/states
(docs/protocol.md, "Topics": cat-feeder/<thing>/action and cat-feeder/<thing>/states).
From Python (tests, benchmarks): `prepare_flash(flash_dir, pki, config)`, `device_config(...)`,
`start(flash_dir)`.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from cloud import household
from cloud.hub.lock import DataDirLock, HubRunning
from cloud.hub.pki import DEFAULT_DIR as DEFAULT_PKI_DIR
from cloud.hub.pki import DEFAULT_THING, Pki
from cloud.hub.processes import end_process
from cloud.ports import PortInUse, check_free
from cloud.press import HUB_PORT
from cloud.topology import action_topic, states_topic
from tools import release_key
from tools.board import mpy_cross

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
ENTRY_POINTS = ("main.py", "main_unix.py")
DEFAULT_FLASH = os.path.join(".flash", "device")  # alone, with its private broker (like --pki, from the cwd)
HUB_FLASH = os.path.join(".flash", "device-hub")  # on the hub's broker (or any --port)
# The stock image's frozen modules the firmware must not depend on: tools/stock_frozen/umqtt/simple.py.
STOCK_FROZEN = os.path.join(ROOT, "tools", "stock_frozen")


def board_path(root=""):
    """MICROPYPATH in the board's order: on the ESP32, sys.path = ['', '.frozen', '/lib'] (py/runtime.c
    adds the first two, ports/esp32/main.c '/lib'). The firmware's folder (the board's flash root),
    the frozen modules (the interpreter's own, ssl and asyncio, and the stock image's umqtt), lib/."""
    return "%s:.frozen:%s:lib" % (root, STOCK_FROZEN)


# On the board's flash (the working directory): "" is the flash root, as on the board.
FLASH_PATH = board_path()
TRACE = "servo.trace"
BUTTON_LEVEL = "button.level"  # the virtual button (sim_button.SimButton, tools/sim_board.py)
CERTS = {"ca": "ca.der", "cert": "device.crt.der", "key": "device.key.der"}


def device_config(port, thing=DEFAULT_THING, **sections):
    """The config.json for a device talking to 127.0.0.1:port (hostname localhost, as in the broker cert).

    Keyword arguments replace or extend whole sections (`mqtt` entries are merged)."""
    config = {
        "thing": thing,
        "mqtt": {
            "host": "localhost",
            "port": port,
            "keepalive_s": 60,
            "ca": "certs/" + CERTS["ca"],
            "cert": "certs/" + CERTS["cert"],
            "key": "certs/" + CERTS["key"],
            "action_topic": action_topic(thing),
            "states_topic": states_topic(thing),
        },
        # The config.py defaults (500-2500 us, 0 -> 90 degrees, 600 ms dwell) on the example's pins.
        "servos": {"left": {"pin": 3}, "right": {"pin": 4}},
        "commands": {"default_ttl_s": 300, "max_ttl_s": 3600},
        "storage": {"dir": "data", "outbox_capacity": 64},
        "telemetry_interval_s": 60,
        "sim": {"trace": TRACE, "button": BUTTON_LEVEL},
    }
    config["mqtt"].update(sections.pop("mqtt", {}))
    config.update(sections)
    return config


def household_config(port, member):
    """device_config for a thing of the household file (`make device THING=`, member its entry): its
    role, its button on GPIO5 (the virtual one) and, on a feeder, each bowl's caps."""
    sections = {"role": member["role"], "button": {"pin": 5}}
    if member["role"] == "feeder":
        sections["feeding"] = dict(member["caps"])
    return device_config(port, member["thing"], **sections)


def with_release_key(config, directory=release_key.DEFAULT_DIR):
    """config with the public part of the household's release key (`make release` made it), as `make flash`
    gives a board, so the simulated board takes the releases `make ota` offers it; unchanged without one."""
    modulus = release_key.modulus_hex(directory)
    if modulus is not None:
        config.setdefault("ota", {})["release_key"] = modulus
    return config


def prepare_flash(flash_dir, pki, config, fresh=False, compiled=True):
    """Copy the firmware and DER certificates into flash_dir and write config.json.

    The journal and outbox (config storage.dir) are kept unless fresh, as a board keeps its flash.
    compiled (the default): modules as .mpy bytecode (mpy-cross), as `make flash` deploys them, so importing
    them spends no heap on compiling; from source (compiled=False) a feeder with its schedule does not boot
    in 128K."""
    os.makedirs(os.path.join(flash_dir, "certs"), exist_ok=True)
    for name in os.listdir(FIRMWARE):
        if name.endswith((".py", ".mpy")) and os.path.exists(os.path.join(flash_dir, name[:-3] + ".mpy")):
            os.remove(os.path.join(flash_dir, name[:-3] + ".mpy"))  # a stale compiled copy would win
        if name.endswith(".py"):
            shutil.copyfile(os.path.join(FIRMWARE, name), os.path.join(flash_dir, name))
    # The thing's own certificate (its CN is the thing name the ACL grants topics to).
    device = pki.device(config["thing"])
    for source, target in (("ca.der", "ca.der"), (device + ".crt.der", "device.crt.der"),
                           (device + ".key.der", "device.key.der")):
        shutil.copyfile(pki.path(source), os.path.join(flash_dir, "certs", target))
    os.chmod(os.path.join(flash_dir, "certs", "device.key.der"), 0o600)
    # A board boots with its button released, whatever a previous run left in the file.
    button_level = os.path.join(flash_dir, config.get("sim", {}).get("button", BUTTON_LEVEL))
    if os.path.exists(button_level):
        os.remove(button_level)
    if fresh:
        for leftover in (config["storage"]["dir"], config.get("sim", {}).get("trace", TRACE)):
            path = os.path.join(flash_dir, leftover)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
    if compiled:
        _compile_tree(flash_dir)
    with open(os.path.join(flash_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    return flash_dir


def _compile_tree(flash_dir):
    """Replace every module but the entry points by its .mpy (bytecode, runs on any port)."""
    for dirpath, _, filenames in os.walk(flash_dir):
        for name in filenames:
            if name.endswith(".py") and name not in ENTRY_POINTS:
                source = os.path.join(dirpath, name)
                mpy_cross(source, source[:-3] + ".mpy", os.path.relpath(source, flash_dir))
                os.remove(source)


def start(flash_dir, heapsize="128K", **popen_kwargs):
    """Start the firmware (main_unix, as source or as the .mpy `make flash` deploys) in flash_dir;
    returns the Popen."""
    env = dict(os.environ, MICROPYPATH=FLASH_PATH)
    return subprocess.Popen(
        [MICROPYTHON, "-X", "heapsize=" + heapsize, "-m", "main_unix", "config.json"],
        cwd=flash_dir, env=env, **popen_kwargs,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description="run the firmware on the unix port")
    parser.add_argument("command", choices=("run",))
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--hub", action="store_true", help="join the hub's broker on 127.0.0.1:%d" % HUB_PORT)
    where.add_argument("--port", type=int, help="join the broker on 127.0.0.1:PORT (default: a private one)")
    parser.add_argument("--flash", help="folder that acts as the board's flash (default %s alone, %s on a "
                        "hub)" % (DEFAULT_FLASH, HUB_FLASH))
    parser.add_argument("--heapsize", default="128K")
    parser.add_argument("--fresh", action="store_true", help="wipe the journal, outbox and trace first")
    parser.add_argument("--pki", default=DEFAULT_PKI_DIR)
    parser.add_argument("--thing", help="run as this thing of the household file (default: cat-feeder alone)")
    parser.add_argument("--household", default=household.PATH, help="the household file (cloud/household.py)")
    args = parser.parse_args(argv)
    member = None
    port = HUB_PORT if args.hub else args.port
    try:
        known = household.load(args.household)
        if args.thing is not None:
            member = household.thing(known, args.thing)
        elif port is not None:  # the hub's broker grants the household's things alone
            household.thing(known, DEFAULT_THING)
    except household.HouseholdError as error:
        print("device: %s%s" % (error, "" if args.thing else ": pass THING="), file=sys.stderr)
        return 1
    if port is not None and not listening(port):
        print("device: nothing listens on 127.0.0.1:%d: start the hub first (make hub), or pass its "
              "BROKER_PORT=" % port, file=sys.stderr)
        return 1
    if port is not None and not os.path.exists(Pki(args.pki, DEFAULT_THING).cert("ca")):
        # A new CA here would not be the running hub's: the board would fail TLS, over and over.
        print("device: no PKI in %s, so no certificate the hub's broker trusts: make pki, restart the hub "
              "(make hub), then start the device again" % args.pki, file=sys.stderr)
        return 1
    # Each thing its own flash, as each board has its own.
    flash_dir = args.flash or (HUB_FLASH if port is not None else DEFAULT_FLASH) + (
        "-" + args.thing if member else "")
    # Held until this process exits: two boards on one flash would share a journal and take each
    # other's MQTT session.
    try:
        DataDirLock(flash_dir, "device", "give this one another THING= (or --flash)").acquire()
    except HubRunning as running:
        print("device: %s" % running, file=sys.stderr)
        return 1
    pki = Pki(args.pki, DEFAULT_THING).ensure()
    broker = None
    if port is None:
        from cloud.hub.broker import Broker

        # Its ACL grants this board's thing (and role) alone.
        things = [{"name": member["thing"], "role": member["role"]}] if member else None
        broker = Broker(pki, os.path.join(args.pki, "broker-device"), things=things).start()
        port = broker.port
    # The feeder of hardware/README.md: servos on GPIO3/4, its button on GPIO5 (here the virtual one).
    config = household_config(port, member) if member else device_config(port, button={"pin": 5})
    flash = prepare_flash(os.path.abspath(flash_dir), pki, with_release_key(config), fresh=args.fresh)
    print("device: flash %s, %s 127.0.0.1:%d, servo trace %s" % (
        flash, "private broker" if broker else "the hub's broker", port, os.path.join(flash, TRACE)))
    print("device: press its button with\n  %s -m tools.sim_board --flash %s --press SINGLE"
          % (sys.executable, os.path.relpath(flash)))
    if broker is None:
        print("device: or feed from the page (make web) or with make press EVENT=SINGLE%s"
              % (" THING=" + args.thing if member else ""), flush=True)
    else:
        print("device: send a command with\n  %s -m tools.mqttc pub --port %d --topic %s --message "
              "'{\"v\":1,\"id\":\"try-%d\",\"event\":\"SINGLE\",\"issued_at\":%d}'"
              % (sys.executable, port, action_topic(config["thing"]), int(time.time()), int(time.time())),
              flush=True)
    # Its own session: the terminal's Ctrl-C reaches only this process, which stops the device the
    # way a power switch does, instead of MicroPython printing a KeyboardInterrupt traceback.
    device = start(flash, args.heapsize, start_new_session=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopped by a signal, it stops the device too
    try:
        status = device.wait()
        # A board's firmware ends only to restart (an update staged, a trial that did not connect) or on a
        # crash; the board reboots by itself, this stand-in waits to be started again.
        print("device: the firmware stopped (exit status %d), as a board does to restart: start it again "
              "(make device%s%s) and it boots as the board would" % (
                  status, " HUB=1" if args.hub else " BROKER_PORT=%d" % args.port if args.port else "",
                  " THING=" + args.thing if member else ""), flush=True)
        return status
    except KeyboardInterrupt:
        end_process(device)
        print("device: stopped (Ctrl-C); its flash %s keeps the journal and outbox" % os.path.relpath(flash))
        return 0
    finally:
        end_process(device)
        if broker is not None:
            broker.stop()


def listening(port):
    """Whether something listens on 127.0.0.1:port (a bind there fails), without connecting to it."""
    try:
        check_free("127.0.0.1", port)
    except PortInUse:
        return True
    return False


if __name__ == "__main__":
    sys.exit(main())

"""The self-hosted hub's command line: `python -m cloud.hub COMMAND` (`make hub` runs `run`).

run     [--data-dir .hub] [--bind 127.0.0.1] [--port 8883] [--pki .pki]
        mosquitto (mutual TLS, the ACL) and the hub in the foreground, logging each press,
        command and result; Ctrl-C stops both. One hub per data folder (cloud/hub/lock.py): a
        second start, or a port another program holds, is refused in one line before any file
        is written.
verify  [--data-dir .hub]          check the ledger's hash chain; exit 1 when it is broken
replay  --from T --to T --rules history[,replays] [--data-dir .hub]
        replay a window of the ledger to the chosen rules (never `feeds`), with `replay-name`
"""

import argparse
import logging
import os
import signal
import sys
import threading
import time
import uuid

from cloud.hub import ledger as ledger_mod
from cloud.hub import projection
from cloud.hub.hub import HISTORY_FILE, LEDGER_FILE, Hub
from cloud.hub.lock import DataDirLock, HubRunning
from cloud.ports import PortInUse, check_free

DEFAULT_DATA_DIR = ".hub"


def refuse(message):
    print("hub: " + message, file=sys.stderr)
    return 2


def run(args):
    from cloud.hub.broker import Broker
    from cloud.hub.pki import Pki

    # Before any file is touched (PKI, broker config, ledger): one hub per data folder, a free port.
    try:
        lock = DataDirLock(args.data_dir).acquire()
        if args.broker_port is None:
            check_free(args.bind, args.port)
    except HubRunning as running:
        return refuse(str(running))
    except PortInUse as taken:
        return refuse("%s (another hub, or a mosquitto of the system?): stop it, or pass "
                      "HUB_ARGS=\"--port N\"" % taken)
    pki = Pki(args.pki, broker_hosts=args.host_name).ensure()
    broker = None
    port = args.broker_port
    if port is None:
        broker = Broker(pki, os.path.join(args.data_dir, "broker"), port=args.port, bind=args.bind)
        try:
            broker.start()
        except RuntimeError:
            broker.stop()
            return refuse("mosquitto did not start on %s:%d: see %s"
                          % (args.bind, args.port, broker.log_path))
        port = broker.port
        logging.info("mosquitto on %s:%d (mutual TLS, CA %s)", args.bind, port, pki.cert("ca"))
    try:
        hub = Hub(args.data_dir, pki, "127.0.0.1", port, lock=lock).start()
    except ledger_mod.CorruptLedger as error:
        logging.error("hub: %s; move it aside (keep it: it is the history) and start again", error)
        if broker is not None:
            broker.stop()
        return 2
    logging.info("hub: ledger %s; Ctrl-C stops", hub.ledger_path)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set() and (broker is None or broker.running):
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        hub.stop()
        if broker is not None:
            broker.stop()
    return 0


def verify(args):
    path = os.path.join(args.data_dir, LEDGER_FILE)
    try:
        db = ledger_mod.connect(path, readonly=True)
        count, problems = ledger_mod.verify(db)
    except ledger_mod.CorruptLedger as error:
        print("verify: %s" % error, file=sys.stderr)
        return 2
    for problem in problems:
        print("verify: " + problem)
    print("verify: %d events, hash chain %s" % (count, "BROKEN" if problems else "intact"))
    return 1 if problems else 0


def _progress(read, delivered):
    print("  %d events read, %d delivered" % (read, delivered), flush=True)


def replay(args):
    from cloud.aws.replay import parse_time
    from cloud.hub.replay import ReplayRefused
    from cloud.hub.replay import replay as run_replay
    from cloud.hub.runtime import Runtime

    name = args.name or "replay-%s-%s" % (time.strftime("%Y%m%dT%H%M%S", time.gmtime()), uuid.uuid4().hex[:8])
    rules = [rule.strip() for rule in args.rules.split(",") if rule.strip()]
    store = projection.SqliteStore(os.path.join(args.data_dir, HISTORY_FILE))
    try:
        start, end = parse_time(getattr(args, "from")).timestamp(), parse_time(args.to).timestamp()
        read, delivered = run_replay(
            os.path.join(args.data_dir, LEDGER_FILE),
            name,
            start,
            end,
            rules,
            progress=_progress,
            runtime=Runtime(store=store),
        )
    except ReplayRefused as error:
        print("replay: refused: %s" % error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("replay %s: cancelled" % name, file=sys.stderr)
        return 130
    finally:
        store.close()
    print(
        "replay %s: COMPLETED, %d events read, %d delivered to %s" % (name, read, delivered, ", ".join(rules))
    )
    return 0


def hydrate(args):
    from cloud.aws.replay import parse_time
    from cloud.hub.hydrate import hydrate as run_hydrate
    from cloud.hub.replay import ReplayRefused

    try:
        until = parse_time(args.to).timestamp() if args.to else None
        read, projected = run_hydrate(
            os.path.join(args.data_dir, LEDGER_FILE), args.out, until, progress=_progress
        )
    except ReplayRefused as error:
        print("hydrate: refused: %s" % error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hydrate: cancelled; %s holds what was projected so far" % args.out, file=sys.stderr)
        return 130
    print("hydrate: %s holds the history of %d ledger events (%d projected)" % (args.out, read, projected))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cloud.hub", description="the self-hosted hub")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "verify", "replay", "hydrate"):
        command = commands.add_parser(name)
        command.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    commands.choices["replay"].add_argument("--from", required=True)
    commands.choices["replay"].add_argument("--to", required=True)
    commands.choices["replay"].add_argument("--rules", required=True)
    commands.choices["replay"].add_argument("--name")
    commands.choices["hydrate"].add_argument("--out", required=True)
    commands.choices["hydrate"].add_argument("--to")
    commands.choices["run"].add_argument("--bind", default="127.0.0.1", help="mosquitto's listen address")
    commands.choices["run"].add_argument("--port", type=int, default=8883, help="mosquitto's port")
    commands.choices["run"].add_argument("--pki", default=".pki")
    commands.choices["run"].add_argument(
        "--host-name",
        action="append",
        default=[],
        help="a LAN host name or IP of this machine for the broker certificate (repeatable)",
    )
    commands.choices["run"].add_argument(
        "--broker-port", type=int, help="use the mosquitto already listening on 127.0.0.1:PORT instead"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s.%(msecs)03d %(message)s", datefmt="%H:%M:%S")
    logging.Formatter.converter = time.gmtime
    return {"run": run, "verify": verify, "replay": replay, "hydrate": hydrate}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

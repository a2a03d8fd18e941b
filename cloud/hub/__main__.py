"""The self-hosted hub's command line: `python -m cloud.hub COMMAND` (`make hub` runs `run`).

run     [--data-dir .hub] [--bind 127.0.0.1] [--port 8883] [--pki .pki]
        mosquitto (mutual TLS, the ACL) and the hub in the foreground, logging each press,
        command and result; Ctrl-C stops both.
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

from cloud.hub import ledger as ledger_mod
from cloud.hub.hub import LEDGER_FILE, Hub

DEFAULT_DATA_DIR = ".hub"


def run(args):
    from tools.broker import Broker
    from tools.pki import Pki

    pki = Pki(args.pki).ensure()
    broker = Broker(pki, os.path.join(args.data_dir, "broker"), port=args.port, bind=args.bind).start()
    logging.info("mosquitto on %s:%d (mutual TLS, CA %s)", args.bind, broker.port, pki.cert("ca"))
    hub = Hub(args.data_dir, pki, "127.0.0.1", broker.port).start()
    logging.info("hub: ledger %s; Ctrl-C stops", hub.ledger_path)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set() and broker.running:
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        hub.stop()
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cloud.hub", description="the self-hosted hub")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "verify"):
        command = commands.add_parser(name)
        command.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    commands.choices["run"].add_argument("--bind", default="127.0.0.1", help="mosquitto's listen address")
    commands.choices["run"].add_argument("--port", type=int, default=8883, help="mosquitto's port")
    commands.choices["run"].add_argument("--pki", default=".pki")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s.%(msecs)03d %(message)s", datefmt="%H:%M:%S")
    logging.Formatter.converter = time.gmtime
    return {"run": run, "verify": verify}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

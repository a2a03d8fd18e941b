"""The self-hosted hub's command line: `python -m cloud.hub COMMAND` (`make hub` runs `run`).

run     [--data-dir .hub] [--bind 127.0.0.1] [--port 8883] [--pki .pki]
        mosquitto (mutual TLS, the ACL) and the hub in the foreground, logging each press,
        command, result and alert (to the household file's `alerts.notify`); Ctrl-C stops both.
        One hub per data folder (cloud/hub/lock.py): a second start, or a port another program
        holds, is refused in one line before any file is written.
verify  [--data-dir .hub] [--broker-port 8883 | --no-broker] [--pki .pki] [--public-key HEX]
        check the ledger's hash chain and the signed checkpoints (the checkpoint file and the one
        retained on the broker): exit 1 when the chain is broken or the ledger ends before, or
        disagrees with, a checkpoint
backup  DEST [--keep 7] [--data-dir .hub]
        a verified copy of the ledger (SQLite's online backup API, safe while the hub runs) with its
        checkpoints, in DEST/hub-<time>/; keeps the newest N generations
restore BACKUP [--data-dir .hub]
        a backup that verifies into a data directory holding no ledger; rebuilds the history
status  [--json] [--data-dir .hub] [--broker-port 8883] [--pki .pki]
        broker up, ingest stalled/lag, cursors behind, dead letters, disk free, last checkpoint,
        last backup; exit 1 when something needs attention
install [--state-dir /var/lib/cat-feeder] [--user cat-feeder] [--hub-args ARGS] [--web-args ARGS]
        systemd units for the hub and the page (cloud/hub/service.py); `uninstall` removes them
replay  --from T --to T --rules history[,replays] [--data-dir .hub]
        replay a window of the ledger to the chosen rules (never `feeds`), with `replay-name`
incidents [--json] [--to T] [--data-dir .hub] [--household FILE]
        open incidents, the newest resolved ones, notifications not delivered yet and the dead letters
        (cloud/hub/alerting.py); --to T: the incidents rebuilt from the ledger as they stood at T
hydrate --out FILE [--to T] [--data-dir .hub]
        a brand-new history projection rebuilt from the ledger up to T (default: all of it)
ota     [THING] VERSION [--url-host localhost] [--https-port 8443] [--data-dir .hub] [--household FILE]
        offer a release built by `make release` to a feeder (default: the household's first) over the
        air (cloud/hub/jobs.py)
"""

import argparse
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

from cloud import household
from cloud.hub import checkpoint, projection
from cloud.hub import ledger as ledger_mod
from cloud.hub.hub import HISTORY_FILE, LEDGER_FILE, Hub
from cloud.hub.lock import DataDirLock, HubRunning
from cloud.ports import PortInUse, check_free

DEFAULT_DATA_DIR = ".hub"


EXAMPLE_TOPIC = "replace-with-a-long-random-topic"  # household.example.json's ntfy topic


def household_line(path, home):
    """What the hub runs for, so an edit of the household file (or its absence) is seen at start."""
    roles = {role: [t["thing"] for t in home["things"] if t["role"] == role] for role in ("feeder", "button")}
    where = "household %s" % path if os.path.exists(path) else "no household file (%s)" % path
    notify = home["alerts"]["notify"]
    # ntfy.sh topics are public: the example's, left in, would tell anyone who reads it.
    placeholder = any(EXAMPLE_TOPIC in url for url in notify)
    return "%s: feeders %s; buttons %s; alerts to %d destination%s%s" % (
        where, ", ".join(roles["feeder"]), ", ".join(roles["button"]) or "none", len(notify),
        "" if len(notify) == 1 else "s",
        " (one is household.example.json's placeholder topic: put a long random one of your own)"
        if placeholder else "")


def refuse(message):
    print("hub: " + message, file=sys.stderr)
    return 2


def no_ledger(command, data_dir, hint="--data-dir DIR"):
    """The one line for a command on a folder no hub ever ran on (not a "corrupt" ledger), or None."""
    path = os.path.join(data_dir, LEDGER_FILE)
    if os.path.exists(path):
        return None
    return ("%s: no ledger at %s: run the hub (make hub), or name the folder of the hub you run (%s)"
            % (command, path, hint))


def run(args):
    from cloud.hub.broker import Broker
    from cloud.hub.pki import CredentialsError, Pki

    try:  # the household's routing, before anything starts: a bad file is one line, nothing running
        home = household.load(args.household)
        topology, notify = household.topology(home), home["alerts"]["notify"]
    except household.HouseholdError as error:
        return refuse(str(error))

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
    except OSError as error:  # a file where the folder should be, no permission, a read-only disk
        why = "a file, not a folder" if os.path.isfile(args.data_dir) else error.strerror or error
        return refuse("--data-dir %s: %s" % (args.data_dir, why))
    try:
        pki = Pki(args.pki, broker_hosts=args.host_name).ensure()
        pki.household(thing["name"] for thing in topology["things"])  # each board's, for `make flash THING=`
    except CredentialsError as error:
        return refuse(str(error))
    broker = None
    port = args.broker_port
    if port is None:
        broker = Broker(pki, os.path.join(args.data_dir, "broker"), port=args.port, bind=args.bind,
                        persistence="sd-card", things=topology["things"], topology=topology)
        try:
            broker.start()
        except RuntimeError:
            broker.stop()
            return refuse("mosquitto did not start on %s:%d: see %s"
                          % (args.bind, args.port, broker.log_path))
        except OSError as error:  # its folder in the data folder is a file, not writable
            broker.stop()
            return refuse("mosquitto's files in %s: %s" % (broker.dir, error))
        port = broker.port
        logging.info("mosquitto on %s:%d (mutual TLS, CA %s)", args.bind, port, pki.cert("ca"))
    try:
        hub = Hub(
            args.data_dir, pki, "127.0.0.1", port, lock=lock, topology=topology, notify=notify,
            https=(args.bind, args.https_port),
        ).start()
    except (ledger_mod.CorruptLedger, CredentialsError, OSError, sqlite3.Error) as error:
        # OSError, sqlite3.Error: a file of the data folder that is a folder, a full or read-only disk.
        logging.error("hub: %s%s", error, "; " + error.advice if hasattr(error, "advice") else "")
        if broker is not None:
            broker.stop()
        return 2
    logging.info("hub: %s", household_line(args.household, home))
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
    missing = no_ledger("verify", args.data_dir)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    try:
        db = ledger_mod.connect(path, readonly=True)
        count, problems = ledger_mod.verify(db)
    except ledger_mod.CorruptLedger as error:
        print("verify: %s; %s" % (error, error.advice), file=sys.stderr)
        return 2
    for problem in problems:
        print("verify: " + problem)
    print("verify: %d events, hash chain %s" % (count, "BROKEN" if problems else "intact"))
    anchored = verify_checkpoints(args, db)
    return 1 if problems or not anchored else 0


def verify_checkpoints(args, db):
    """The ledger against the checkpoint file and the broker's retained checkpoint; False on a problem."""
    found = checkpoint.read_file(args.data_dir)
    if not args.no_broker:
        from cloud.hub.pki import Pki

        try:
            retained = checkpoint.fetch_retained(Pki(args.pki), args.broker_host, args.broker_port)
        except (ConnectionError, OSError) as error:
            print("verify: checkpoint on the broker: not checked (%s)" % error)
        else:
            if retained is None:
                print("verify: checkpoint on the broker: none retained")
            else:
                found.append(("checkpoint on the broker", retained))
    try:
        public_key = checkpoint.load_public_key(args.data_dir, args.public_key)
    except ValueError as error:
        print("verify: public key: %s" % error)
        return False
    problems = checkpoint.check(db, found, public_key)
    for problem in problems:
        print("verify: " + problem)
    print(
        "verify: %d checkpoints checked, %s"
        % (len(found), "DISAGREE" if problems else "the ledger reaches them all")
    )
    return not problems


def backup(args):
    from cloud.hub import backup as backup_mod

    try:
        path, events = backup_mod.take(args.data_dir, args.dest, args.keep)
    except (backup_mod.BackupRefused, ledger_mod.CorruptLedger, OSError, sqlite3.Error) as error:
        print("backup: failed: %s" % error, file=sys.stderr)
        return 1
    print(
        "backup: %s holds %d events, verified with its checkpoint (newest %d kept)"
        % (path, events, args.keep)
    )
    return 0


def restore(args):
    from cloud.hub import backup as backup_mod

    try:
        events, projected = backup_mod.restore(args.backup, args.data_dir)
    except (backup_mod.BackupRefused, OSError) as error:
        print("restore: refused: %s" % error, file=sys.stderr)
        return 1
    print(
        "restore: %s holds the %d events of %s; history rebuilt (%d events projected); start the hub"
        % (args.data_dir, events, args.backup, projected)
    )
    return 0


def status(args):
    import json

    from cloud.hub import status as status_mod
    from cloud.hub.pki import Pki

    missing = no_ledger("status", args.data_dir)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    try:
        report = status_mod.gather(args.data_dir, Pki(args.pki), args.broker_host, args.broker_port)
    except ledger_mod.CorruptLedger as error:
        print("status: %s" % error, file=sys.stderr)
        return 2
    print(json.dumps(report, sort_keys=True) if args.json else "\n".join(status_mod.lines(report)))
    return 0 if report["ok"] else 1


def install(args):
    from cloud.hub import service

    units = service.render(args.state_dir, args.user, args.hub_args, args.web_args)
    try:
        service.install(units, args.unit_dir, args.state_dir, args.user, systemctl=not args.no_systemctl)
    except (OSError, subprocess.CalledProcessError) as error:
        print("install: failed: %s" % error, file=sys.stderr)
        return 1
    print(
        "install: %s in %s (data in %s, user %s)"
        % (" and ".join(units), args.unit_dir, args.state_dir, args.user)
    )
    return 0


def uninstall(args):
    from cloud.hub import service

    try:
        removed = service.uninstall(args.unit_dir, systemctl=not args.no_systemctl)
    except (OSError, subprocess.CalledProcessError) as error:
        print("uninstall: failed: %s" % error, file=sys.stderr)
        return 1
    print("uninstall: removed %s; the data and the user stay" % (", ".join(removed) or "nothing"))
    return 0


def _progress(read, delivered):
    print("  %d events read, %d delivered" % (read, delivered), flush=True)


def replay(args):
    from cloud.aws.replay import ReplayRefused as BadTime
    from cloud.aws.replay import parse_time
    from cloud.handlers import alerts
    from cloud.hub import alerting
    from cloud.hub.replay import ReplayRefused
    from cloud.hub.replay import replay as run_replay
    from cloud.hub.runtime import Runtime

    name = args.name or "replay-%s-%s" % (time.strftime("%Y%m%dT%H%M%S", time.gmtime()), uuid.uuid4().hex[:8])
    rules = [rule.strip() for rule in args.rules.split(",") if rule.strip()]
    store = projection.SqliteStore(os.path.join(args.data_dir, HISTORY_FILE))
    # Replays reach the incidents but never a notifier (cloud/handlers/alerts.py): none is given.
    incidents = alerting.open_store(os.path.join(args.data_dir, alerting.INCIDENTS_FILE))
    try:
        start, end = parse_time(getattr(args, "from")).timestamp(), parse_time(args.to).timestamp()
        read, delivered = run_replay(
            os.path.join(args.data_dir, LEDGER_FILE),
            name,
            start,
            end,
            rules,
            progress=_progress,
            runtime=Runtime(store=store, alerts=alerts.Alerting(incidents, None)),
        )
    except (ReplayRefused, BadTime) as error:
        print("replay: refused: %s" % error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("replay %s: cancelled" % name, file=sys.stderr)
        return 130
    finally:
        store.close()
        incidents.close()
    print(
        "replay %s: COMPLETED, %d events read, %d delivered to %s" % (name, read, delivered, ", ".join(rules))
    )
    return 0


def hydrate(args):
    from cloud.aws.replay import ReplayRefused as BadTime
    from cloud.aws.replay import parse_time
    from cloud.hub.hydrate import hydrate as run_hydrate
    from cloud.hub.replay import ReplayRefused

    missing = no_ledger("hydrate", args.data_dir)
    if missing:  # before the new projection file is made
        print(missing, file=sys.stderr)
        return 2
    try:
        until = parse_time(args.to).timestamp() if args.to else None
        read, projected = run_hydrate(
            os.path.join(args.data_dir, LEDGER_FILE), args.out, until, progress=_progress
        )
    except (ReplayRefused, BadTime) as error:
        print("hydrate: refused: %s" % error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hydrate: cancelled; %s holds what was projected so far" % args.out, file=sys.stderr)
        return 130
    print("hydrate: %s holds the history of %d ledger events (%d projected)" % (args.out, read, projected))
    return 0


def incidents(args):
    import json

    from cloud.aws.replay import parse_time
    from cloud.hub import alerting

    path = os.path.join(args.data_dir, alerting.INCIDENTS_FILE)
    ledger_path = os.path.join(args.data_dir, LEDGER_FILE)
    missing = no_ledger("incidents", args.data_dir, 'make incidents INCIDENTS_ARGS="--data-dir DIR"')
    if missing:  # not "0 incidents" for a folder no hub ever ran on
        return refuse(missing)
    if args.to:
        try:
            topology = household.topology(household.load(args.household))
            opened, resolved = alerting.rebuild(ledger_path, topology, parse_time(args.to).timestamp())
        except (ValueError, ledger_mod.CorruptLedger) as error:  # the household, the time, the replay
            return refuse("incidents: %s" % error)
        report = {"open": opened, "resolved": resolved[:20], "as_of": args.to}
    else:
        report = alerting.listing(path)
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    for title, rows in (("open", report["open"]), ("resolved", report["resolved"])):
        print("%s incidents: %d" % (title, len(rows)))
        for incident in rows:
            print("  %s  %s x%d  %s" % (
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(incident["opened_at"])),
                incident["id"], incident["count"], incident.get("resolution") or incident["last"]))
    if not args.to:
        print("notifications not delivered yet: %d" % report["pending"])
        print("dead letters: %d" % len(report["dead_letters"]))
        for dead in report["dead_letters"]:
            print("  %s %s to %s after %d attempts: %s" % (
                dead["incident"], dead["transition"], dead["destination"], dead["attempts"], dead["error"]))
    return 0


def ota(args):
    """Offer a built release to a thing (cloud/hub/jobs.py)."""
    from cloud.hub import jobs

    try:  # a job for a thing the household does not name would wait for a board that never comes
        args.thing = household.feeder(household.load(args.household), args.thing)["thing"]
        document = jobs.offer(args.data_dir, args.thing, args.version, args.releases, args.url_host,
                              args.https_port)
    except (jobs.OtaError, household.HouseholdError) as error:
        return refuse(str(error))
    print("ota: %s offered %s as job %s (%s)"
          % (args.thing, args.version, document["jobId"], document["url"]))
    return 0


def add_service_arguments(commands):
    from cloud.hub import service

    for name in ("install", "uninstall"):
        command = commands.add_parser(name)
        command.add_argument("--unit-dir", default=service.DEFAULT_UNIT_DIR)
        command.add_argument(
            "--no-systemctl", action="store_true", help="only write or remove the unit files"
        )
    install_command = commands.choices["install"]
    install_command.add_argument("--state-dir", default=service.DEFAULT_STATE_DIR, help="data and PKI")
    install_command.add_argument("--user", default=service.DEFAULT_USER, help="the dedicated system user")
    install_command.add_argument("--hub-args", default="", help="more `cloud.hub run` arguments")
    install_command.add_argument("--web-args", default="", help="more `web` arguments")


def add_broker_arguments(command):
    command.add_argument("--broker-host", default="127.0.0.1")
    command.add_argument("--broker-port", type=int, default=8883, help="the broker the hub uses")
    command.add_argument("--pki", default=".pki", help="the hub's certificate and key for the broker")


def add_verify_arguments(command):
    add_broker_arguments(command)
    command.add_argument("--no-broker", action="store_true", help="check against the checkpoint file only")
    command.add_argument(
        "--public-key", help="the checkpoint key's public half (hex), from a copy kept elsewhere"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cloud.hub", description="the self-hosted hub")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "verify", "replay", "hydrate", "backup", "restore", "status", "incidents", "ota"):
        command = commands.add_parser(name)
        command.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    commands.choices["replay"].add_argument("--from", required=True)
    commands.choices["replay"].add_argument("--to", required=True)
    commands.choices["replay"].add_argument("--rules", required=True)
    commands.choices["replay"].add_argument("--name")
    commands.choices["hydrate"].add_argument("--out", required=True)
    commands.choices["hydrate"].add_argument("--to")
    commands.choices["incidents"].add_argument("--json", action="store_true", help="one JSON object")
    commands.choices["incidents"].add_argument("--to", help="rebuild from the ledger as of this time")
    commands.choices["incidents"].add_argument("--household", default=household.PATH)
    add_verify_arguments(commands.choices["verify"])
    add_service_arguments(commands)
    add_broker_arguments(commands.choices["status"])
    commands.choices["status"].add_argument("--json", action="store_true", help="one JSON object")
    commands.choices["backup"].add_argument("dest", help="the directory holding the generations")
    commands.choices["backup"].add_argument("--keep", type=int, default=7, help="generations kept")
    commands.choices["restore"].add_argument("backup", help="one generation: DEST/hub-<time>")
    commands.choices["run"].add_argument("--bind", default="127.0.0.1", help="mosquitto's listen address")
    commands.choices["run"].add_argument("--port", type=int, default=8883, help="mosquitto's port")
    commands.choices["run"].add_argument("--pki", default=".pki")
    commands.choices["run"].add_argument(
        "--household", default=household.PATH, help="the household file (default: none, one feeder)")
    commands.choices["run"].add_argument(
        "--host-name",
        action="append",
        default=[],
        help="a LAN host name or IP of this machine for the broker certificate (repeatable)",
    )
    commands.choices["run"].add_argument(
        "--broker-port", type=int, help="use the mosquitto already listening on 127.0.0.1:PORT instead"
    )
    commands.choices["run"].add_argument(
        "--https-port", type=int, default=8443, help="the releases' HTTPS port (updates over the air)")
    commands.choices["ota"].add_argument(
        "thing", nargs="?", help="the feeder of the household to update (default: its first feeder)")
    commands.choices["ota"].add_argument("version", help="a release built by make release")
    commands.choices["ota"].add_argument("--household", default=household.PATH)
    commands.choices["ota"].add_argument("--releases", default=os.path.join("build", "release"))
    commands.choices["ota"].add_argument(
        "--url-host", default="localhost", help="the hub as boards reach it (a --host-name)")
    commands.choices["ota"].add_argument("--https-port", type=int, default=8443,
                                         help="the hub's --https-port")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s.%(msecs)03d %(message)s", datefmt="%H:%M:%S")
    logging.Formatter.converter = time.gmtime
    commands_run = {"run": run, "verify": verify, "replay": replay, "hydrate": hydrate}
    commands_run.update(backup=backup, restore=restore, status=status, install=install, uninstall=uninstall)
    commands_run.update(incidents=incidents, ota=ota)
    return commands_run[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

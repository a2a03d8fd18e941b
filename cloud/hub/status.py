"""`python -m cloud.hub status [--json]`: is the hub healthy? Read from outside the running hub: the
ledger (read-only), the data directory's disk, the checkpoint file, and the broker (its reachability,
the retained checkpoint and the hub's retained health report, cloud/hub/health.py).

`ok` is false when the broker cannot be reached, the hub is not reporting (stopped, or its report
older than STALE_S), ingest is stalled, or dead letters wait (of a rule, or notifications given up by
cloud/hub/alerting.py); the command then exits 1. `alerts` counts the open incidents and the
notifications not delivered yet.
"""

import os
import shutil
import time

from cloud.handlers import bounds
from cloud.hub import alerting, checkpoint, health
from cloud.hub import ledger as ledger_mod
from cloud.hub.hub import LEDGER_FILE

STALE_S = 3 * health.INTERVAL_S


def gather(data_dir, pki, host, port, now=time.time):
    db = ledger_mod.connect(os.path.join(data_dir, LEDGER_FILE), readonly=True)
    try:
        length, _ = checkpoint.ledger_head(db)
        cursors = {
            rule: length - seq for rule, seq in db.execute("SELECT rule, seq FROM cursors ORDER BY rule")
        }
        (dead_letters,) = db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()
        rejected, rejected_dropped = ledger_mod.rejected_counts(db)
        backup = None
        if ledger_mod.schema_version(db) >= 2:  # a hub not yet started on an upgraded release: no table
            backup = db.execute("SELECT path, length, at FROM backups ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        db.close()
    incidents = alerting.listing(os.path.join(data_dir, alerting.INCIDENTS_FILE))
    found = [cp for _, cp in checkpoint.read_file(data_dir) if _checkpoint_summary(cp)]
    report = {
        "events": length,
        "cursors_behind": cursors,
        "dead_letters": dead_letters,
        "alerts": {
            "open": len(incidents["open"]),
            "pending": incidents["pending"],
            "dead_letters": len(incidents["dead_letters"]),
        },
        "rejected": rejected,
        "rejected_dropped": rejected_dropped,
        "disk_free_bytes": shutil.disk_usage(data_dir).free,
        "last_checkpoint": _checkpoint_summary(found[-1] if found else None),
        "last_backup": dict(zip(("path", "length", "at"), backup, strict=True)) if backup else None,
    }
    try:
        retained = checkpoint.fetch_retained(pki, host, port, health.HEALTH_TOPIC)
        report["broker_checkpoint"] = _checkpoint_summary(checkpoint.fetch_retained(pki, host, port))
        report["broker"] = "up"
    except (ConnectionError, OSError) as error:
        retained, report["broker"] = None, "down (%s)" % error
    hub = retained or {}
    report["hub_reporting"] = bool(hub.get("running")) and now() - hub.get("at", 0) < STALE_S
    report["ingest_stalled"] = hub.get("ingest_stalled")
    report["ingest_pending"] = hub.get("ingest_pending")
    report["ingest_lag_s"] = hub.get("ingest_lag_s")
    report["ok"] = (
        report["broker"] == "up"
        and report["hub_reporting"]
        and not report["ingest_stalled"]
        and not dead_letters
        and not report["alerts"]["dead_letters"]
    )
    return report


def _checkpoint_summary(found):
    """Its length and time; None for what is no checkpoint (a line or a retained message of another shape:
    `verify` says which, and whether the signatures hold)."""
    if not isinstance(found, dict):
        return None
    length, at = found.get("length"), found.get("at")
    if not (bounds.is_int(length, 0, 2**63 - 1) and bounds.is_int(at, 0, bounds.MAX_TIME)):
        return None
    return {"length": length, "at": at}


def lines(report):
    """The report as plain `name: value` lines."""

    def when(at):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))

    checkpoint_line = "none"
    if report["last_checkpoint"]:
        checkpoint_line = "seq %d at %s" % (
            report["last_checkpoint"]["length"],
            when(report["last_checkpoint"]["at"]),
        )
    backup_line = "none"
    if report["last_backup"]:
        backup = report["last_backup"]
        backup_line = "%d events at %s in %s" % (backup["length"], when(backup["at"]), backup["path"])
    behind = ", ".join("%s %d" % item for item in report["cursors_behind"].items()) or "no cursors yet"
    ingest = "not reporting (stopped?)"
    if report["hub_reporting"]:
        ingest = "STALLED: %s" % report["ingest_stalled"] if report["ingest_stalled"] else "ok"
        ingest += ", %s pending, lag %.1f s" % (report["ingest_pending"], report["ingest_lag_s"])
    return [
        "status: %s" % ("ok" if report["ok"] else "PROBLEM"),
        "broker: %s" % report["broker"],
        "ingest: %s" % ingest,
        "events: %d" % report["events"],
        "cursors behind: %s" % behind,
        "dead letters: %d" % report["dead_letters"],
        "alerts: %(open)d open incidents, %(pending)d notifications pending, %(dead_letters)d given up"
        % report["alerts"],
        "rejected inputs: %d kept, %d dropped (the oldest first)"
        % (report["rejected"], report["rejected_dropped"]),
        "disk free: %.1f MB" % (report["disk_free_bytes"] / 1e6),
        "last checkpoint: %s" % checkpoint_line,
        "last backup: %s" % backup_line,
    ]

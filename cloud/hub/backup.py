"""Backups of the hub's data directory, taken while the hub runs, and their restore.

    python -m cloud.hub backup DEST [--keep 7] [--data-dir .hub]
    python -m cloud.hub restore DEST/hub-20261204T163000Z [--data-dir .hub-restored]

A backup is a directory DEST/hub-<UTC time>/ holding:
- `ledger.sqlite3`: a consistent copy taken with SQLite's online backup API (a plain file copy of a
  WAL database being written can be torn), in rollback-journal mode so it is one self-contained file;
- the checkpoint file and the checkpoint key pair, copied *before* the ledger: every checkpoint in the
  copy is then within the copied ledger, which only grows;
- `backup-checkpoint.json`: a checkpoint of the copy signed with the hub's key.
It is verified (hash chain, every checkpoint in it) before it gets its final name, recorded in the
live ledger's `backups` table, and the oldest generations beyond `keep` are removed.

Restore refuses a backup that fails the same verification and a data directory that already holds a
ledger; it copies the files and rebuilds the history projection from the restored ledger (the live
projection is a separate file, so no copy of it can match the ledger copy exactly), and from it each
feeder's schedule shadow (cloud/hub/shadows.py restore_desired: the newest schedule of the copy). The hub then
resumes each rule from its restored cursor: a press already in the copy is never a second event, and
a command sent again (the copy's `feeds` cursor can lag the commands it sent) carries the same press
id, which the feeder answers `duplicate` without moving a servo (docs/protocol.md).
"""

import json
import os
import re
import shutil
import sqlite3
import time

from cloud.hub import checkpoint, shadows
from cloud.hub import ledger as ledger_mod
from cloud.hub.hub import HISTORY_FILE, LEDGER_FILE
from cloud.hub.hydrate import hydrate
from cloud.hub.projection import SqliteStore

BACKUP_CHECKPOINT_FILE = "backup-checkpoint.json"
COPIED_FIRST = (checkpoint.CHECKPOINTS_FILE, checkpoint.KEY_FILE, checkpoint.PUBLIC_KEY_FILE)
GENERATION = re.compile(r"^hub-\d{8}T\d{6}Z(-\d+)?$")
DEFAULT_KEEP = 7


class BackupRefused(RuntimeError):
    """A backup that cannot be taken or restored; the message says why in one line."""


def take(data_dir, dest, keep=DEFAULT_KEEP, now=time.time):
    """Back up data_dir into a new generation under dest; returns (its path, events in it)."""
    source_path = os.path.join(data_dir, LEDGER_FILE)
    if not os.path.exists(source_path):
        raise BackupRefused("%s: no ledger to back up" % source_path)
    key = checkpoint.load_or_create_key(data_dir)  # before the copy, which takes its public half
    os.makedirs(dest, exist_ok=True)
    final = _generation_path(dest, now())
    work = final + ".partial"
    os.makedirs(work)
    try:
        for name in COPIED_FIRST:
            if os.path.exists(os.path.join(data_dir, name)):
                shutil.copy2(os.path.join(data_dir, name), os.path.join(work, name))
        _copy_ledger(source_path, os.path.join(work, LEDGER_FILE))
        copy = ledger_mod.connect(os.path.join(work, LEDGER_FILE), readonly=True)
        length, head = checkpoint.ledger_head(copy)
        copy.close()
        signed = checkpoint.sign(key, length, head, now())
        with open(os.path.join(work, BACKUP_CHECKPOINT_FILE), "w") as f:
            json.dump(signed, f, sort_keys=True)
        events, problems = check(work)
        if problems:
            raise BackupRefused("the copy does not verify: %s" % "; ".join(problems))
        os.rename(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    _record(source_path, final, length, head, signed["at"])
    _prune(dest, keep)
    return final, events


def _generation_path(dest, at):
    base = os.path.join(dest, "hub-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(at)))
    path, n = base, 1
    while os.path.exists(path) or os.path.exists(path + ".partial"):
        n += 1
        path = "%s-%d" % (base, n)
    return path


def _copy_ledger(source_path, target_path):
    source = ledger_mod.connect(source_path, readonly=True)
    target = sqlite3.connect(target_path)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
    finally:
        target.close()
        source.close()


def _record(ledger_path, path, length, head, at):
    db = ledger_mod.connect(ledger_path)
    try:
        db.execute(
            "INSERT INTO backups (path, length, head, at) VALUES (?, ?, ?, ?)",
            (os.path.abspath(path), length, head, at),
        )
    finally:
        db.close()


def _prune(dest, keep):
    generations = sorted(name for name in os.listdir(dest) if GENERATION.match(name))
    for name in generations[: max(0, len(generations) - keep)]:
        shutil.rmtree(os.path.join(dest, name))


def check(backup_dir):
    """(events, problems) of a backup: its hash chain and every checkpoint in it, its own included."""
    path = os.path.join(backup_dir, LEDGER_FILE)
    signed_path = os.path.join(backup_dir, BACKUP_CHECKPOINT_FILE)
    if not os.path.exists(path) or not os.path.exists(signed_path):
        return 0, ["%s is not a backup (no %s or %s)" % (backup_dir, LEDGER_FILE, BACKUP_CHECKPOINT_FILE)]
    try:
        db = ledger_mod.connect(path, readonly=True)
    except ledger_mod.CorruptLedger as error:
        return 0, [str(error)]
    try:
        count, problems = ledger_mod.verify(db)
        try:
            with open(signed_path) as f:
                signed = json.load(f)
        except ValueError:
            signed = None
        found = checkpoint.read_file(backup_dir) + [("backup checkpoint", signed)]
        problems += checkpoint.check(db, found, checkpoint.load_public_key(backup_dir))
        if isinstance(signed, dict) and signed.get("length") != count:
            problems.append(
                "backup checkpoint: it covers %s events, the copy holds %d" % (signed.get("length"), count)
            )
    finally:
        db.close()
    return count, problems


def restore(backup_dir, data_dir):
    """Restore a verified backup into data_dir (which must hold no ledger); returns (events, projected)."""
    if os.path.exists(os.path.join(data_dir, LEDGER_FILE)):
        raise BackupRefused(
            "%s already holds a ledger: move it aside (keep it) or restore elsewhere" % data_dir
        )
    events, problems = check(backup_dir)
    if problems:
        raise BackupRefused("%s fails verify: %s" % (backup_dir, "; ".join(problems)))
    os.makedirs(data_dir, exist_ok=True)
    for name in COPIED_FIRST:
        if os.path.exists(os.path.join(backup_dir, name)):
            shutil.copy2(os.path.join(backup_dir, name), os.path.join(data_dir, name))
    shutil.copy2(os.path.join(backup_dir, LEDGER_FILE), os.path.join(data_dir, LEDGER_FILE))
    history = os.path.join(data_dir, HISTORY_FILE)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(history + suffix):
            os.remove(history + suffix)
    _, projected = hydrate(os.path.join(data_dir, LEDGER_FILE), history)
    rebuilt = SqliteStore(history)
    try:
        shadows.restore_desired(data_dir, rebuilt.rows())
    finally:
        rebuilt.close()
    return events, projected

"""`make history` (cloud/history.py): the table and the chart's counts for a day range, from a projection."""

import subprocess
import sys

from cloud import history as history_mod
from cloud.handlers import projector
from cloud.hub.projection import SqliteStore
from rigs.hubdata import ROOT, T0, press_event, result_event, status_event

DAY = 24 * 3600


def project_all(folder, events):
    """The rows of the hub's projection in `folder` once every event is applied."""
    store = SqliteStore(str(folder / "history.sqlite3"))
    for event in events:
        projector.project(store, event)
    rows = list(store.rows())
    store.close()
    return rows


def projected(tmp_path):
    """Day 1: SINGLE dispensed, DOUBLE capped, LONG dispensed. Day 2: SINGLE unanswered, LONG interrupted."""
    presses = [
        press_event(0, T0),
        press_event(1, T0 + 60),
        press_event(2, T0 + 120),
        press_event(3, T0 + DAY),
        press_event(5, T0 + DAY + 60),
    ]
    ids = [p["detail"]["press_id"] for p in presses]
    answers = [
        result_event(1, ids[0], "dispensed", T0 + 1, ["left"]),
        result_event(2, ids[1], "capped", T0 + 61, [], reason="feeding cap"),
        result_event(3, ids[2], "dispensed", T0 + 121, ["left", "right"]),
        result_event(5, ids[4], "interrupted", T0 + DAY + 61, ["left", "right"]),
        status_event("offline", T0 + DAY + 100),
    ]
    return project_all(tmp_path, presses + answers), ids


def test_the_table_and_the_chart_counts_show_outcomes_and_mark_unconfirmed_and_failed(tmp_path):
    rows, ids = projected(tmp_path)
    history = history_mod.History(rows, as_of=T0 + 2 * DAY)
    day1 = history_mod.date(2026, 11, 18)
    presses = history.between(day1, day1 + history_mod.timedelta(days=1))
    assert [p["shown"] for p in presses] == ["dispensed", "capped", "dispensed", "unconfirmed", "interrupted"]
    per_day = history.per_day(presses)
    assert per_day == {
        day1: {"left": 2, "right": 1, "failed": 1, "unconfirmed": 0},
        day1 + history_mod.timedelta(days=1): {"left": 0, "right": 0, "failed": 1, "unconfirmed": 1},
    }
    lines = history_mod.table(history, presses)
    assert "capped (feeding cap)" in lines[2] and ids[1] in lines[2]
    assert "unconfirmed" in lines[4]
    assert (
        lines[-1].startswith("device cat-feeder: offline since 2026-11-19 11:08:20")
        and lines[-1].endswith("missing: result number 4 (sent by the device, never received)")
    )
    assert [label for _, label, _ in history_mod.chart_series(list(per_day.values()))] == [
        "left bowl", "right bowl", "failed (not fed)", "unconfirmed (no answer)"]
    fed_only = [{"left": 1, "right": 0, "failed": 0, "unconfirmed": 0}]
    assert [label for _, label, _ in history_mod.chart_series(fed_only)] == ["left bowl", "right bowl"]
    # A press still within its TTL is pending, not unconfirmed.
    assert (
        history_mod.History(rows, as_of=T0 + DAY + 10).between(day1, day1 + history_mod.timedelta(days=1))[3][
            "shown"
        ]
        == "pending"
    )


def test_make_history_prints_the_range_and_writes_a_png(tmp_path):
    projected(tmp_path)
    png = tmp_path / "chart.png"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloud.history",
            "--data-dir",
            str(tmp_path),
            "--from",
            "2026-11-18",
            "--to",
            "2026-11-18",
            "--png",
            str(png),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert (
        run.stdout.splitlines()[-1] == "history: 3 presses from 2026-11-18 to 2026-11-18; chart in %s" % png
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    missing = subprocess.run(
        [sys.executable, "-m", "cloud.history", "--data-dir", str(tmp_path / "none")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        missing.returncode == 1
        and missing.stderr.startswith("history: no hub history at")
        and 'HISTORY_ARGS="--data-dir DIR"' in missing.stderr
        and "Traceback" not in missing.stderr
    )

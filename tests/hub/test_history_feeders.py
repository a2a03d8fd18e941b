"""`make history` per feeder (issue 19): each press is the feeder's that answered it, or, unanswered,
the one its button targets (a remote button's as the household file maps it); `--thing` keeps one
feeder; the chart has a panel per feeder. Rows projected from events of before the household (a
feeder's own press, no household file) read as before."""

import json
import subprocess
import sys

import pytest

from cloud import history as history_mod
from cloud import household as household_mod
from rigs.hubdata import ROOT, T0, press_event, result_event, status_event
from tests.hub.test_hub_history import project_all

HOUSEHOLD = {
    "things": [
        {"thing": "kitchen", "name": "Kitchen"},
        {"thing": "bedroom", "name": "Bedroom"},
        {"thing": "hall-button", "name": "Hall", "role": "button", "feeds": "bedroom"},
    ]
}


def projected(path):
    """kitchen's own SINGLE, dispensed; hall-button's DOUBLE, dispensed by bedroom; hall-button's LONG,
    never answered; and an old single-feeder press of cat-feeder, dispensed."""
    presses = [
        press_event(1, T0, "SINGLE", thing="kitchen"),
        press_event(2, T0 + 60, "DOUBLE", thing="hall-button"),
        press_event(3, T0 + 120, "LONG", thing="hall-button"),
        press_event(4, T0 + 180, "SINGLE"),
    ]
    ids = [p["detail"]["press_id"] for p in presses]
    answers = [
        result_event(1, ids[0], "dispensed", T0 + 1, ["left"], thing="kitchen"),
        result_event(1, ids[1], "dispensed", T0 + 61, ["right"], thing="bedroom"),
        result_event(7, ids[3], "dispensed", T0 + 181, ["left"]),
        status_event("online", T0 - 5, thing="kitchen"),
        status_event("online", T0 - 5, thing="bedroom"),
    ]
    return project_all(path, presses + answers), ids


def test_each_press_belongs_to_the_feeder_that_answered_or_that_its_button_targets(tmp_path):
    rows, ids = projected(tmp_path)
    household = household_mod.validate(HOUSEHOLD)
    history = history_mod.History(rows, as_of=T0 + 3600, household=household)
    day = history_mod.date(2026, 11, 18)
    presses = history.between(day, day)
    assert [(p["press_id"], p["feeder"]) for p in presses] == [
        (ids[0], "kitchen"), (ids[1], "bedroom"), (ids[2], "bedroom"), (ids[3], "cat-feeder")]
    assert [p["shown"] for p in history.between(day, day, "bedroom")] == ["dispensed", "unconfirmed"]
    # The household's feeders in its order, then a thing only the history names.
    assert history.feeders(presses) == ["kitchen", "bedroom", "cat-feeder"]
    lines = history_mod.table(history, history.between(day, day, "kitchen"), "kitchen")
    assert lines[0].split()[:3] == ["requested", "(UTC)", "feeder"]
    assert lines[1].split()[2] == "kitchen" and ids[0] in lines[1]
    assert [line.split()[1] for line in lines[2:]] == ["kitchen:"]  # only kitchen's device line
    # Without a household file: the single feeder; the old press reads as it always did.
    alone = history_mod.History(rows, as_of=T0 + 3600)
    assert alone.between(day, day, "cat-feeder")[0]["press_id"] == ids[3]
    assert [p["feeder"] for p in alone.between(day, day)][2] == "hall-button"  # unanswered, unmapped


def run(*args):
    return subprocess.run([sys.executable, "-m", "cloud.history", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_make_history_thing_filters_one_feeder_and_refuses_an_unknown_one(tmp_path):
    projected(tmp_path)
    household = tmp_path / "household.json"
    household.write_text(json.dumps(HOUSEHOLD))
    common = ["--data-dir", str(tmp_path), "--household", str(household), "--from", "2026-11-18",
              "--to", "2026-11-18"]
    png = tmp_path / "bedroom.png"
    done = run(*common, "--thing", "bedroom", "--png", str(png))
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[-1] == "history: 2 presses from 2026-11-18 to 2026-11-18 for bedroom; chart in %s" % png
    assert [line.split()[2] for line in out[1:3]] == ["bedroom", "bedroom"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Every feeder: one panel each, so a taller chart than one feeder's.
    every = tmp_path / "every.png"
    assert run(*common, "--png", str(every)).returncode == 0
    assert _png_height(every) > 2 * _png_height(png) - 200
    for thing, said in (("attic", "'attic' is not in the household file"), ("hall-button", "is a button")):
        refused = run(*common, "--thing", thing)
        assert refused.returncode == 2 and said in refused.stderr and "Traceback" not in refused.stderr


def _png_height(path):
    return int.from_bytes(path.read_bytes()[20:24], "big")


def test_a_scheduled_feeding_has_its_bowls_in_the_table():
    """The projection's row of a scheduled result (cloud/handlers/projector.py): no press, its bowls fed."""
    row = {"fed_bowls": ["left"], "origin": "schedule", "outcome": "dispensed", "outcome_at": T0,
           "press_id": "sch-1-0-20261118-1", "reason": None, "requested_at": T0, "result_seqs": ["kitchen:4"]}
    history = history_mod.History([("press#sch-1-0-20261118-1", row)], as_of=T0 + 60,
                                  household=household_mod.validate(HOUSEHOLD))
    day = history_mod.date(2026, 11, 18)
    line = history_mod.table(history, history.between(day, day))[1]
    assert line.split()[2:6] == ["kitchen", "schedule", "left", "dispensed"], line


@pytest.mark.parametrize("argv, line", [
    (["--from", "yesterday"], "history: argument --from: expected a day YYYY-MM-DD, e.g. 2026-11-01, got "
                              "'yesterday' (see python -m cloud.history --help)\n"),
    (["--from", "2026-12-10", "--to", "2026-12-01"],
     "history: --from 2026-12-10 is after --to 2026-12-01 (see python -m cloud.history --help)\n"),
])
def test_make_history_with_a_bad_from_or_to_is_one_line(argv, line, capsys):
    """`make history FROM=yesterday`: one line naming the option, not argparse's usage block."""
    with pytest.raises(SystemExit) as exited:
        history_mod.main(argv)
    assert exited.value.code == 2 and capsys.readouterr().err == line

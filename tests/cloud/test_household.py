"""cloud/household.py: the household file a person edits, each mistake one line naming the field; the
routing it gives the feeder function (household.topology)."""

import json

import pytest

from cloud import household
from cloud.handlers import alerts as alert_rules
from cloud.topology import THING, TOPOLOGY, local_environment
from firmware import config as firmware_config

KITCHEN = {"thing": "kitchen", "name": "Kitchen", "role": "feeder"}
HALL = {"thing": "hall-button", "name": "Hall", "role": "button", "feeds": "kitchen"}


def write(tmp_path, document):
    path = tmp_path / "household.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_the_example_loads_and_maps_its_remote_button():
    example = household.load(household.PATH.with_name("household.example.json"))
    assert household.routes(example) == {"hall-button": "kitchen"}


def test_without_a_file_the_household_is_todays_single_feeder(tmp_path):
    alone = household.load(tmp_path / "household.json")
    assert [entry["thing"] for entry in alone["things"]] == [THING] and household.routes(alone) == {}
    assert household.topology(alone) == TOPOLOGY  # the default household changes nothing


def test_defaults_are_the_firmwares(tmp_path):
    loaded = household.load(write(tmp_path, {"things": [{"thing": "kitchen"}]}))
    assert loaded == {"timezone": "UTC", "schedule_min_gap_min": 60, "things": [
        {"thing": "kitchen", "name": "kitchen", "role": "feeder",
         "caps": {"max_portions_per_hour": 4, "max_portions_per_day": 12}}],
        "alerts": dict(alert_rules.DEFAULTS, notify=[])}


MAX_DAY = firmware_config.MAX_PORTIONS_PER_DAY


@pytest.mark.parametrize("document, error", [
    ("{not json", "household.json: not JSON"),
    ("[]", "household: expected a JSON object"),
    ({"things": [KITCHEN], "pets": 2}, "pets: unknown key"),
    ({"things": [dict(KITCHEN, colour="red")]}, "things[0].colour: unknown key"),
    ({"things": [KITCHEN, dict(HALL, caps={})]}, "things[1].caps: unknown key"),
    ({"things": []}, "things: expected a list of at least one feeder"),
    ({"things": [HALL]}, "things: expected at least one feeder"),
    ({"things": [KITCHEN, dict(HALL, feeds="attic")]}, "things[1].feeds: 'attic' is not a feeder of the"),
    ({"things": [KITCHEN, dict(HALL, feeds="hall-button")]}, "things[1].feeds: 'hall-button' is not a"),
    ({"things": [KITCHEN, dict(KITCHEN, name="Den")]}, "things[1].thing: 'kitchen' is named twice"),
    ({"things": [KITCHEN, dict(HALL, name="Kitchen")]}, "things[1].name: 'Kitchen' is named twice"),
    ({"things": [dict(KITCHEN, thing="kitchen/+")]}, "things[0].thing: expected 1-64 characters from"),
    ({"things": [dict(KITCHEN, thing="k" * 65)]}, "things[0].thing: expected 1-64 characters from"),
    ({"things": [dict(KITCHEN, role="bowl")]}, "things[0].role: expected feeder or button"),
    ({"things": [dict(KITCHEN, caps={"max_portions_per_day": MAX_DAY + 1})]},
     "things[0].caps.max_portions_per_day: expected an integer 1..%d, got %d" % (MAX_DAY, MAX_DAY + 1)),
    ({"things": [dict(KITCHEN, caps={"max_portions_per_day": 6, "max_portions_per_hour": 7})]},
     "things[0].caps.max_portions_per_hour: expected an integer 1..6, got 7"),
    ({"things": [dict(KITCHEN, caps={"max_portions_per_hour": True})]},
     "things[0].caps.max_portions_per_hour: expected an integer"),
    ({"things": [KITCHEN], "timezone": "Mars/Olympus"}, "timezone: expected an IANA time zone"),
    ({"things": [KITCHEN], "timezone": "../etc/passwd"}, "timezone: expected an IANA time zone"),
    # A folder of the time zone database, and a name no file system takes: not a zone, not a traceback.
    ({"things": [KITCHEN], "timezone": "Europe"}, "timezone: expected an IANA time zone"),
    ({"things": [KITCHEN], "timezone": "a" * 5000}, "timezone: expected an IANA time zone"),
    ("[" * 100000 + "]" * 100000, "household.json: not JSON (nested too deeply)"),
    # A lone surrogate is valid JSON but no text: the page could not send it.
    ('{"things": [{"thing": "kitchen", "name": "\\ud800"}]}', "things[0].name: expected 1-64 characters"),
    ({"things": [KITCHEN], "schedule_min_gap_min": 721}, "schedule_min_gap_min: expected an integer 0..720"),
    ({"things": [KITCHEN], "schedule_min_gap_min": "1h"}, "schedule_min_gap_min: expected an integer"),
    # Names the cloud side takes on the broker: the hub's identities, its and `make press`'s client ids.
    ({"things": [dict(KITCHEN, thing="cloud-hub")]}, "things[0].thing: 'cloud-hub' is a name the cloud"),
    ({"things": [KITCHEN, dict(HALL, thing="cloud-publisher")]}, "things[1].thing: 'cloud-publisher' is a"),
    ({"things": [dict(KITCHEN, thing="cloud-observer")]}, "things[0].thing: 'cloud-observer' is a name"),
    ({"things": [dict(KITCHEN, thing="cat-feeder-hub")]}, "things[0].thing: 'cat-feeder-hub' is a name"),
    ({"things": [dict(KITCHEN, thing="cat-feeder-hub-publisher")]}, "things[0].thing: 'cat-feeder-hub-pub"),
    ({"things": [dict(KITCHEN, thing="cat-feeder-press-12")]}, "things[0].thing: 'cat-feeder-press-12' is"),
])
def test_a_bad_household_file_is_one_line_naming_the_field(tmp_path, document, error):
    with pytest.raises(household.HouseholdError) as raised:
        household.load(write(tmp_path, document))
    assert str(raised.value).startswith(error) and "\n" not in str(raised.value)


def test_the_names_the_hub_uses_on_its_broker_are_reserved():
    from cloud.hub import ingest, pki

    for name in (pki.PUBLISHER_CN, pki.OBSERVER_CN, pki.HUB_CN, ingest.CLIENT_ID, "cat-feeder-hub-reports"):
        with pytest.raises(household.HouseholdError, match="is a name the cloud itself uses"):
            household.validate({"things": [dict(KITCHEN, thing=name)]})
    assert household.validate({"things": [dict(KITCHEN, thing="cat-feeder-2")]})  # a feeder's name is free


def test_the_feeder_function_reads_the_routes_as_compact_json():
    routed = household.topology(household.validate({"things": [KITCHEN, HALL], "timezone": "Europe/Paris"}))
    environment = local_environment("feeder", routed)
    assert environment["BUTTON_ROUTES"] == '{"hall-button":"kitchen"}'
    assert environment["DEFAULT_FEEDER"] == "kitchen"
    assert TOPOLOGY["functions"]["feeder"]["environment"]["BUTTON_ROUTES"] == "{}"  # not changed in place


def test_a_household_too_large_for_lambdas_environment_is_refused():
    buttons = [dict(HALL, thing="b%03d" % n, name="B%d" % n) for n in range(300)]
    with pytest.raises(household.HouseholdError, match="^things: 300 remote buttons make the feeder"):
        household.topology(household.validate({"things": [KITCHEN] + buttons}))


def test_make_press_names_the_feeder_a_press_targets(tmp_path):
    from cloud.press import PressError, feeder_of

    path = write(tmp_path, {"things": [KITCHEN, HALL]})
    assert feeder_of("hall-button", path) == ("hall-button", "kitchen (Kitchen)")  # the feeder it maps to
    assert feeder_of("kitchen", path) == ("kitchen", "kitchen (Kitchen)")
    assert feeder_of(None, path) == ("kitchen", "kitchen (Kitchen)")  # no THING=: the first feeder
    assert feeder_of(None, tmp_path / "absent.json") == ("cat-feeder", "cat-feeder (Feeder)")
    # A thing the file does not name: no feeder would answer, so nothing is published.
    with pytest.raises(PressError, match=r"^thing: 'porch' is not in the household file \(it names kitchen"):
        feeder_of("porch", path)
    with pytest.raises(PressError, match=r"^things\[0\]: expected an object$"):
        feeder_of("kitchen", write(tmp_path, {"things": [1]}))

def test_a_household_path_that_is_no_readable_file_is_one_line(tmp_path):
    with pytest.raises(household.HouseholdError, match=r"^household: cannot read .*: Is a directory$"):
        household.load(tmp_path)


@pytest.mark.parametrize("command", [["hub", "run", "--data-dir"], ["deploy", "plan", "--out"]])
def test_the_hub_and_the_deployer_refuse_a_bad_household_in_one_line(tmp_path, capsys, command):
    from cloud.aws import deploy
    from cloud.hub import __main__ as hub_cli

    main = hub_cli.main if command[0] == "hub" else deploy.main
    bad = write(tmp_path, {"things": [KITCHEN, dict(HALL, feeds="attic")]})
    assert main(command[1:] + [str(tmp_path / "out"), "--household", str(bad)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("things[1].feeds: 'attic' is not a feeder of the household")
    assert not (tmp_path / "out").exists()  # nothing started, no data folder made

"""The household file: the feeders and remote buttons one home (or cattery) runs, which feeder each
remote button feeds, each feeder's caps and the household's time zone. A person edits it (JSON, see
household.example.json); the code reads it here and nowhere else.

`load(path)` returns the validated household, or the default one (today's single feeder `cat-feeder`)
when the file does not exist; any problem raises HouseholdError with one line naming the field, e.g.
"things[2].feeds: 'attic' is not a feeder of the household". `routes(household)` is the mapping the
feeder function reads, remote button -> the feeder it feeds; `topology(household)` is cloud/topology.py's
declaration with it in the feeder function's environment and the household's things (each provisioned
by the deployer and granted by the hub's ACL per role), for the hub and the deployer.

Bounds come from where they are defined: a thing name from the protocol (cloud/handlers/bounds.py), the
caps from the firmware's own limits (firmware/config.py), as the board enforces them.
"""

import json
import zoneinfo
from pathlib import Path

from cloud.handlers import bounds
from cloud.hub.pki import HUB_CN, OBSERVER_CN, PUBLISHER_CN
from cloud.topology import THING, TOPOLOGY
from firmware import config as firmware_config

PATH = Path(__file__).resolve().parents[1] / "household.json"
ROLES = firmware_config.ROLES  # feeder, button
KEYS = {"timezone", "things"}
THING_KEYS = {
    "feeder": {"thing", "name", "role", "caps"},
    "button": {"thing", "name", "role", "feeds"},
}
MAX_NAME = 64
# Names the cloud side itself takes on the broker, never a thing's: a thing's name becomes its certificate's
# CN (the hub's ACL user) and its MQTT client id, so a thing called like the hub's identities
# (cloud/hub/pki.py) would hold their rights, and one called like the client id of the hub's or `make
# press`'s own MQTT clients (cloud/hub/ingest.py CLIENT_ID and the cat-feeder-hub-* ids of hub.py and
# checkpoint.py; cloud/press.py) would take over their sessions (a broker drops the older connection of a
# client id).
RESERVED_THINGS = frozenset((PUBLISHER_CN, OBSERVER_CN, HUB_CN))
RESERVED_PREFIXES = ("cat-feeder-hub", "cat-feeder-press-")
# Lambda's limit on a function's environment, all variables together as the JSON map Lambda stores
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html: "4 KB ... in aggregate"),
# less room for the deploy-time IOT_DATA_ENDPOINT.
MAX_FEEDER_ENVIRONMENT_BYTES = 4 * 1024 - 512
# The firmware's defaults, applied to each bowl of a feeder without `caps`.
DEFAULT_CAPS = {
    "max_portions_per_hour": firmware_config.DEFAULT_PORTIONS_PER_HOUR,
    "max_portions_per_day": firmware_config.DEFAULT_PORTIONS_PER_DAY,
}
DEFAULT = {
    "timezone": "UTC",
    "things": [{"thing": THING, "name": "Feeder", "role": "feeder", "caps": dict(DEFAULT_CAPS)}],
}


class HouseholdError(ValueError):
    """One line: the field and what is wrong with it."""


def load(path=PATH):
    """The household in the file at path, validated; the default household when there is no file."""
    path = Path(path)
    if not path.exists():
        return json.loads(json.dumps(DEFAULT))
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        raise HouseholdError("%s: not JSON (%s)" % (path.name, str(error).splitlines()[0])) from None
    return validate(document)


def validate(document):
    """The household with defaults filled in, or HouseholdError naming the field."""
    if not isinstance(document, dict):
        raise HouseholdError("household: expected a JSON object")
    _known_keys(document, KEYS, "")
    timezone = document.get("timezone", "UTC")
    if not isinstance(timezone, str) or not _is_zone(timezone):
        raise HouseholdError(
            "timezone: expected an IANA time zone such as Europe/London, got %r" % (timezone,)
        )
    things = document.get("things")
    if not isinstance(things, list) or not things:
        raise HouseholdError("things: expected a list of at least one feeder")
    valid = [_thing(entry, "things[%d]" % index) for index, entry in enumerate(things)]
    for field in ("thing", "name"):
        seen = set()
        for index, entry in enumerate(valid):
            if entry[field] in seen:
                raise HouseholdError("things[%d].%s: %r is named twice" % (index, field, entry[field]))
            seen.add(entry[field])
    feeders = {entry["thing"] for entry in valid if entry["role"] == "feeder"}
    if not feeders:
        raise HouseholdError("things: expected at least one feeder (role feeder)")
    for index, entry in enumerate(valid):
        if entry["role"] == "button" and entry["feeds"] not in feeders:
            raise HouseholdError(
                "things[%d].feeds: %r is not a feeder of the household" % (index, entry["feeds"])
            )
    return {"timezone": timezone, "things": valid}


def routes(household):
    """Remote button -> the feeder it feeds. A feeder's own button is not listed: it feeds itself."""
    return {entry["thing"]: entry["feeds"] for entry in household["things"] if entry["role"] == "button"}


def topology(household, base=TOPOLOGY):
    """base with the household's routing in the feeder function's environment: BUTTON_ROUTES (compact
    JSON) and DEFAULT_FEEDER, the household's first feeder (the target of a press that names no thing,
    an IoT 1-Click button's). HouseholdError when that environment would exceed Lambda's limit."""
    buttons = routes(household)
    first = next(entry["thing"] for entry in household["things"] if entry["role"] == "feeder")
    feeder = dict(base["functions"]["feeder"])
    feeder["environment"] = dict(
        feeder["environment"], DEFAULT_FEEDER=first, BUTTON_ROUTES=json.dumps(buttons, separators=(",", ":"))
    )
    size = len(json.dumps(feeder["environment"], separators=(",", ":")).encode())
    if size > MAX_FEEDER_ENVIRONMENT_BYTES:
        raise HouseholdError(
            "things: %d remote buttons make the feeder function's environment %d bytes, over Lambda's %d"
            % (len(buttons), size, MAX_FEEDER_ENVIRONMENT_BYTES)
        )
    things = [{"name": entry["thing"], "role": entry["role"]} for entry in household["things"]]
    return dict(base, functions=dict(base["functions"], feeder=feeder), things=things)


def thing(household, name):
    """The entry of the thing called name, or HouseholdError (e.g. `make flash` of an unknown board)."""
    for entry in household["things"]:
        if entry["thing"] == name:
            return entry
    known = ", ".join(entry["thing"] for entry in household["things"])
    raise HouseholdError("thing: %r is not in the household file (it names %s)" % (name, known))


def _thing(entry, where):
    if not isinstance(entry, dict):
        raise HouseholdError(where + ": expected an object")
    role = entry.get("role", "feeder")
    if role not in ROLES:
        raise HouseholdError(where + ".role: expected feeder or button, got %r" % (role,))
    _known_keys(entry, THING_KEYS[role], where + ".")
    name = entry.get("thing")
    if not bounds.is_thing(name):
        raise HouseholdError(
            where + ".thing: expected 1-%d characters from [A-Za-z0-9_-], got %r" % (bounds.MAX_THING, name)
        )
    if name in RESERVED_THINGS or name.startswith(RESERVED_PREFIXES):
        raise HouseholdError(where + ".thing: %r is a name the cloud itself uses on the broker" % name)
    friendly = entry.get("name", name)
    if not isinstance(friendly, str) or not 1 <= len(friendly) <= MAX_NAME:
        raise HouseholdError(where + ".name: expected 1-%d characters, got %r" % (MAX_NAME, friendly))
    valid = {"thing": name, "name": friendly, "role": role}
    if role == "button":
        if not bounds.is_thing(entry.get("feeds")):
            raise HouseholdError(
                where + ".feeds: expected the thing name of a feeder, got %r" % (entry.get("feeds"),)
            )
        valid["feeds"] = entry["feeds"]
    else:
        valid["caps"] = _caps(entry.get("caps", {}), where + ".caps")
    return valid


def _caps(caps, where):
    """Each bowl's caps, within the firmware's limits (firmware/config.py validates the same on the board)."""
    if not isinstance(caps, dict):
        raise HouseholdError(where + ": expected an object")
    _known_keys(caps, set(DEFAULT_CAPS), where + ".")
    per_day = _cap(caps, "max_portions_per_day", where, firmware_config.MAX_PORTIONS_PER_DAY)
    per_hour = _cap(caps, "max_portions_per_hour", where, per_day)
    return {"max_portions_per_hour": per_hour, "max_portions_per_day": per_day}


def _cap(caps, key, where, high):
    value = caps.get(key, min(DEFAULT_CAPS[key], high))
    if not bounds.is_int(value, 1, high):
        raise HouseholdError("%s.%s: expected an integer 1..%d, got %r" % (where, key, high, value))
    return value


def _known_keys(document, known, prefix):
    for key in document:
        if key not in known:
            expected = ", ".join(sorted(known))
            raise HouseholdError("%s%s: unknown key (expected one of %s)" % (prefix, key, expected))


def _is_zone(name):
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True

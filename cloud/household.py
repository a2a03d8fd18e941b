"""The household file: the feeders and remote buttons one home (or cattery) runs, which feeder each
remote button feeds, each feeder's caps and the household's time zone. A person edits it (JSON, see
household.example.json); the code reads it here and nowhere else.

`load(path)` returns the validated household, or the default one (today's single feeder `cat-feeder`)
when the file does not exist; any problem raises HouseholdError with one line naming the field, e.g.
"things[2].feeds: 'attic' is not a feeder of the household". `routes(household)` is the mapping the
feeder function reads, remote button -> the feeder it feeds; `topology(household)` is cloud/topology.py's
declaration with it in the feeder function's environment and the household's things (each provisioned
by the deployer and granted by the hub's ACL per role), for the hub and the deployer.

`alerts` (optional) says what raises an alert and where it goes (cloud/handlers/alerts.py):
`alert_settings(household)` is what the alerts function reads (ALERTS), without the destinations;
`notify` (Apprise URLs, the hub) and `email` / `sms` (SNS subscriptions, AWS) hold tokens and addresses,
which stay in this git-ignored file and are printed only redacted (cloud/hub/alerting.py).

Bounds come from where they are defined: a thing name from the protocol (cloud/handlers/bounds.py), the
caps from the firmware's own limits (firmware/config.py), as the board enforces them.
"""

import json
import zoneinfo
from pathlib import Path

from cloud.handlers import alerts as alert_rules
from cloud.handlers import bounds
from cloud.hub.pki import HUB_CN, OBSERVER_CN, PUBLISHER_CN
from cloud.topology import THING, THING_NAME, TOPOLOGY
from firmware import config as firmware_config

PATH = Path(__file__).resolve().parents[1] / "household.json"
ROLES = firmware_config.ROLES  # feeder, button
# The least time between two scheduled feedings of one feeder (cloud/schedule.py), in minutes.
DEFAULT_MIN_GAP_MIN, MAX_MIN_GAP_MIN = 60, 720
KEYS = {"timezone", "things", "schedule_min_gap_min", "alerts"}
# What raises an alert (cloud/handlers/alerts.py DEFAULTS) and where it goes.
ALERT_SECONDS = ("offline_after_s", "back_online_after_s", "lost_quiet_s")
ALERT_SWITCHES = ("lost_results", "hub")
ALERT_KEYS = set(alert_rules.DEFAULTS) | {"notify", "email", "sms"}
MAX_ALERT_S = 7 * 24 * 3600
MAX_NOTIFY_URLS = 16
MAX_ADDRESS = 256
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
    "schedule_min_gap_min": DEFAULT_MIN_GAP_MIN,
    "things": [{"thing": THING, "name": THING_NAME, "role": "feeder", "caps": dict(DEFAULT_CAPS)}],
    "alerts": dict(alert_rules.DEFAULTS, notify=[]),
}


class HouseholdError(ValueError):
    """One line: the field and what is wrong with it."""


def load(path=PATH):
    """The household in the file at path, validated; the default household when there is no file."""
    path = Path(path)
    if not path.exists():
        return json.loads(json.dumps(DEFAULT))
    try:
        text = path.read_bytes()
    except OSError as error:  # a folder, no permission, an I/O error
        raise HouseholdError("household: cannot read %s: %s" % (path, error.strerror)) from None
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise HouseholdError("%s: not JSON (%s)" % (path.name, str(error).splitlines()[0])) from None
    except RecursionError:
        raise HouseholdError("%s: not JSON (nested too deeply)" % path.name) from None
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
    gap = document.get("schedule_min_gap_min", DEFAULT_MIN_GAP_MIN)
    if not bounds.is_int(gap, 0, MAX_MIN_GAP_MIN):
        raise HouseholdError(
            "schedule_min_gap_min: expected an integer 0..%d, got %r" % (MAX_MIN_GAP_MIN, gap)
        )
    return {
        "timezone": timezone,
        "things": valid,
        "schedule_min_gap_min": gap,
        "alerts": _alerts(document.get("alerts", {})),
    }


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
    alerts = dict(base["functions"]["alerts"])
    alerts["environment"] = dict(
        alerts["environment"], ALERTS=json.dumps(alert_settings(household), separators=(",", ":"))
    )
    size = len(json.dumps(alerts["environment"], separators=(",", ":")).encode())
    if size > MAX_FEEDER_ENVIRONMENT_BYTES:
        raise HouseholdError("things: the names make the alerts function's environment %d bytes" % size)
    # The household's e-mail (and SMS), subscribed to the alerts topic (cloud/aws/resources/sns.py).
    subscriptions = [
        (protocol, household["alerts"][key])
        for key, protocol in (("email", "email"), ("sms", "sms"))
        if key in household.get("alerts", {})
    ]
    topic = dict(base["alerts_topic"], subscriptions=subscriptions) if subscriptions else base["alerts_topic"]
    things = [{"name": entry["thing"], "role": entry["role"]} for entry in household["things"]]
    functions = dict(base["functions"], feeder=feeder, alerts=alerts)
    return dict(base, functions=functions, things=things, alerts_topic=topic)


def alert_settings(household):
    """What raises an alert, each feeder's name and the time zone: the alerts function's ALERTS. The
    destinations (notify, email, sms) are not in it: they reach only the hub's sender and SNS."""
    alerts = household.get("alerts", alert_rules.DEFAULTS)
    settings = {key: value for key, value in alerts.items() if key in alert_rules.DEFAULTS}
    feeders = [entry for entry in household["things"] if entry.get("role", "feeder") == "feeder"]
    names = {entry["thing"]: entry.get("name", entry["thing"]) for entry in feeders}
    return dict(settings, names=names, timezone=household["timezone"])


def _alerts(alerts):
    if not isinstance(alerts, dict):
        raise HouseholdError("alerts: expected an object")
    _known_keys(alerts, ALERT_KEYS, "alerts.")
    valid = dict(alert_rules.DEFAULTS, notify=[])
    for key in ALERT_SECONDS:
        value = alerts.get(key, valid[key])
        if not bounds.is_int(value, 1, MAX_ALERT_S):
            raise HouseholdError("alerts.%s: expected seconds 1..%d, got %r" % (key, MAX_ALERT_S, value))
        valid[key] = value
    for key in ALERT_SWITCHES:
        value = alerts.get(key, valid[key])
        if not isinstance(value, bool):
            raise HouseholdError("alerts.%s: expected true or false, got %r" % (key, value))
        valid[key] = value
    results = alerts.get("results", valid["results"])
    if not isinstance(results, list) or any(kind not in alert_rules.RESULT_KINDS for kind in results):
        raise HouseholdError(
            "alerts.results: expected a list of %s, got %r" % (", ".join(alert_rules.RESULT_KINDS), results)
        )
    valid["results"] = sorted(set(results), key=alert_rules.RESULT_KINDS.index)
    notify = alerts.get("notify", [])
    # The URLs are not echoed: they hold tokens.
    if not isinstance(notify, list) or len(notify) > MAX_NOTIFY_URLS:
        raise HouseholdError("alerts.notify: expected a list of at most %d Apprise URLs" % MAX_NOTIFY_URLS)
    for index, url in enumerate(notify):
        if not isinstance(url, str) or "://" not in url or len(url) > 2048:
            raise HouseholdError("alerts.notify[%d]: expected an Apprise URL (scheme://...)" % index)
    valid["notify"] = notify
    for key in ("email", "sms"):
        if key in alerts:
            if not isinstance(alerts[key], str) or not 3 <= len(alerts[key]) <= MAX_ADDRESS:
                raise HouseholdError("alerts.%s: expected 3-%d characters" % (key, MAX_ADDRESS))
            valid[key] = alerts[key]
    if "email" in valid and "@" not in valid["email"]:
        raise HouseholdError("alerts.email: expected an e-mail address")
    if "sms" in valid and not (valid["sms"].startswith("+") and valid["sms"][1:].isdigit()):
        raise HouseholdError("alerts.sms: expected a phone number in E.164 form (+447700900123)")
    return valid


def thing(household, name):
    """The entry of the thing called name, or HouseholdError (e.g. `make flash` of an unknown board)."""
    for entry in household["things"]:
        if entry["thing"] == name:
            return entry
    known = ", ".join(entry["thing"] for entry in household["things"])
    raise HouseholdError("thing: %r is not in the household file (it names %s)" % (name, known))


def feeder(household, name=None):
    """The entry of the feeder called name (None: the household's first feeder, the one a press that names
    no thing feeds); HouseholdError for an unknown thing or a remote button (which has no servos, schedule
    or updates over the air: its policy grants its button topic alone)."""
    if name is None:
        return next(entry for entry in household["things"] if entry["role"] == "feeder")
    entry = thing(household, name)
    if entry["role"] != "feeder":
        raise HouseholdError("thing: %r is a button, not a feeder" % name)
    return entry


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
    if not isinstance(friendly, str) or not 1 <= len(friendly) <= MAX_NAME or not bounds.is_utf8(friendly):
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
    # OSError: a folder of the zone database ("Europe"), a name too long for a file name.
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True

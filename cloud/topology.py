"""The cloud half declared once, as plain data.

The deployer (cloud/aws/deploy.py) creates exactly this, and the local demo's bus reads the same
declaration, so the two cannot drift. Importing this module has no side effects and needs no boto3.
Names are the resource names in AWS; cross references (`queue`, `function`) name entries of this file.
"""

import json

from cloud.handlers.alerts import DEFAULTS as ALERT_DEFAULTS
from cloud.handlers.updates import (  # noqa: F401 (the topology's names for them)
    UPDATE_FAILED,
    UPDATE_OFFERED,
    UPDATE_ROLLED_BACK,
    UPDATE_STARTED,
    UPDATE_SUCCEEDED,
    ota_job_id,
    update_detail,
    update_event,
)

SOURCE = "com.feedmyfurbabies"
DETAIL_TYPE = "FeedRequested"
# What the device answered (cloud/handlers/states.py): results, status and telemetry, as events of their own.
DEVICE_SOURCE = "com.feedmyfurbabies.device"
DEVICE_DETAIL_TYPES = ("FeedResult", "DeviceStatus", "DeviceTelemetry", "ScheduleReported")
THING = "cat-feeder"
THING_NAME = "Feeder"  # what people call it, without a household file
# The alerts function's settings without a household file (cloud/household.py's alert_settings fills in
# a household's own): every default, the one feeder's name, UTC.
DEFAULT_ALERTS = json.dumps(
    dict(ALERT_DEFAULTS, names={THING: THING_NAME}, timezone="UTC"), separators=(",", ":")
)


# Per-thing topics (docs/protocol.md, "Topics"): level 2 names the thing, so a policy or ACL can grant
# each thing its own topics, and the topic rules and the hub take the thing from the topic.
def action_topic(thing):
    """Commands to one feeder."""
    return "cat-feeder/%s/action" % thing


def states_topic(thing):
    """One device's results, status (also its last will) and telemetry."""
    return "cat-feeder/%s/states" % thing


def button_topic(thing):
    """A button's presses (docs/protocol.md, "Button press")."""
    return "cat-feeder/%s/button" % thing


def topic_thing(topic):
    """The thing a per-thing topic names (level 2), as the topic rules' topic(2)."""
    return topic.split("/")[1]


# The schedule's named shadow (docs/protocol.md, "Schedule shadow"): AWS IoT's reserved topics, which the
# hub serves too (cloud/hub/shadows.py). `suffix` is get, get/accepted, update, update/delta, ...
SCHEDULE_SHADOW = "schedule"
SCHEDULE_CHANGED = "ScheduleChanged"
SCHEDULE_REPORTED = "ScheduleReported"


def shadow_topic(thing, suffix):
    """A topic of a feeder's named shadow `schedule` (docs/protocol.md, "Schedule shadow"), such as
    suffix `get/accepted`; the firmware builds the same prefix in firmware/config.py."""
    return "$aws/things/%s/shadow/name/%s/%s" % (thing, SCHEDULE_SHADOW, suffix)


# Updates over the air (docs/protocol.md, "Updates over the air"): AWS IoT Jobs' reserved topics, which
# the hub serves too (cloud/hub/jobs.py). `suffix` is notify-next, $next/get, $next/get/accepted,
# <jobId>/update, <jobId>/update/accepted, ...
# The update events and the mapping from job execution statuses: cloud/handlers/updates.py.


# IoT Jobs' job execution events, one topic per job and outcome:
# https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html
JOB_EXECUTION_EVENTS = "$aws/events/jobExecution/+/+"


def jobs_topic(thing, suffix):
    """A topic of a thing's jobs (AWS IoT Jobs' device MQTT API), such as suffix `$next/get/accepted`; the
    firmware builds the same prefix in firmware/otajob.py."""
    return "$aws/things/%s/jobs/%s" % (thing, suffix)


def shadow_thing(topic):
    """The thing a shadow topic names (level 3), as the topic rule's topic(3)."""
    return topic.split("/")[2]


BUTTON_TOPIC_FILTER = button_topic("+")
STATES_TOPIC_FILTER = states_topic("+")
# How long a command may be dispensed after the press; also caps every delivery retry of a feed.
COMMAND_TTL_S = 300
# How long each function's log group keeps its lines (the feeder's outcome lines are its only record);
# a function without its own `log_retention_days` gets this.
LOG_RETENTION_DAYS = 30
# The device's client id is its thing name; IoT Core substitutes it per connection.
THING_NAME_VARIABLE = "${iot:Connection.Thing.ThingName}"
AMAZON_ROOT_CA = {"name": "AmazonRootCA1", "url": "https://www.amazontrust.com/repository/AmazonRootCA1.pem"}

TOPOLOGY = {
    "bus": {"name": "feedmyfurbabies"},
    "archive": {
        "name": "feedmyfurbabies-ledger",
        "description": "Every press and every device answer, replayable: the ledger of the cat feeder",
        "retention_days": 400,
        "event_pattern": {"source": [SOURCE, DEVICE_SOURCE]},
    },
    # The feeding history (cloud/handlers/projector.py): one row per press and per device, on demand.
    "table": {"name": "feedmyfurbabies-history"},
    # Alerts (cloud/handlers/alerts.py): the incidents, a projection of their own, and the SNS topic their
    # notifications go to (the household's e-mail, and SMS, subscribed by the deployer).
    "incidents_table": {"name": "feedmyfurbabies-incidents"},
    "alerts_topic": {"name": "feedmyfurbabies-alerts"},
    # Firmware releases for updates over the air (`make ota VIA=aws`, cloud/aws/ota.py): a private bucket,
    # named <name>-<account>-<region> (cloud/aws/deploy.py), read by boards through pre-signed URLs only.
    "releases_bucket": {"name": "feedmyfurbabies-releases"},
    "queues": {
        # Feeds that never reached the device: EventBridge target DLQ and the feeder's on-failure destination.
        "feeds_failed": {"name": "feedmyfurbabies-feeds-failed", "retention_s": 14 * 24 * 3600},
        # Presses and device answers that never reached the bus: topic rules' error action, the button's
        # and the states function's on-failure destination.
        "presses_failed": {"name": "feedmyfurbabies-presses-failed", "retention_s": 14 * 24 * 3600},
        # Events the projector could not apply; replay them to `history` once the cause is fixed.
        "history_failed": {"name": "feedmyfurbabies-history-failed", "retention_s": 14 * 24 * 3600},
        # Events the alerts function could not handle (an SNS publish that kept failing): the DLQ of its
        # rule target and its on-failure destination.
        "alerts_failed": {"name": "feedmyfurbabies-alerts-failed", "retention_s": 14 * 24 * 3600},
        # Replayed presses land here (never on the feeder), for inspection or rebuilding projections.
        "replays": {"name": "feedmyfurbabies-replays", "retention_s": 4 * 24 * 3600},
    },
    "functions": {
        "button": {
            "name": "feedmyfurbabies-button",
            "module": "button",
            "description": "Button press -> FeedRequested event on the bus",
            # The press id is minted by the device's own module, packed next to the handler.
            "shared": ["firmware/press.py", "cloud/handlers/bounds.py"],
            "memory_mb": 128,
            "timeout_s": 10,
            "log_retention_days": LOG_RETENTION_DAYS,
            "environment": {"EVENT_SOURCE": SOURCE, "EVENT_DETAIL_TYPE": DETAIL_TYPE},
            "environment_refs": {"EVENT_BUS_NAME": "bus"},
            # Least privilege: (actions, resource reference), resolved to ARNs by cloud/aws/iam.py.
            "grants": [(["events:PutEvents"], ("bus",))],
            # Invoked asynchronously by the topic rule: a press that still fails after the retries is parked.
            "async": {"max_retries": 2, "max_event_age_s": 6 * 3600, "on_failure_queue": "presses_failed"},
        },
        "states": {
            "name": "feedmyfurbabies-states",
            "module": "states",
            "shared": ["cloud/handlers/bounds.py", "cloud/handlers/updates.py"],
            "description": "Device result/status/telemetry on cat-feeder/<thing>/states -> event on the bus",
            "memory_mb": 128,
            "timeout_s": 10,
            "log_retention_days": LOG_RETENTION_DAYS,
            "environment": {"DEVICE_EVENT_SOURCE": DEVICE_SOURCE, "EVENT_SOURCE": SOURCE},
            "environment_refs": {"EVENT_BUS_NAME": "bus"},
            "grants": [(["events:PutEvents"], ("bus",))],
            "async": {"max_retries": 2, "max_event_age_s": 6 * 3600, "on_failure_queue": "presses_failed"},
        },
        "projector": {
            "name": "feedmyfurbabies-projector",
            "module": "projector",
            "description": "Ledger events (live and replayed) -> feeding history table",
            "memory_mb": 128,
            "timeout_s": 10,
            "log_retention_days": LOG_RETENTION_DAYS,
            "environment": {},
            "environment_refs": {"HISTORY_TABLE": "table"},
            # The live table, and the tables cloud/aws/hydrate.py creates (<name>-<replay>).
            "grants": [
                (["dynamodb:GetItem", "dynamodb:PutItem"], ("table",)),
                (["dynamodb:GetItem", "dynamodb:PutItem"], ("hydrated_tables",)),
            ],
            "async": {"max_retries": 2, "max_event_age_s": 6 * 3600, "on_failure_queue": "history_failed"},
        },
        "feeder": {
            "name": "feedmyfurbabies-feeder",
            "module": "feeder",
            "description": "feeds event -> v1 command on cat-feeder/<thing>/action",
            # The protocol's bounds, and the event names (firmware/press.py's EVENTS: the device's own
            # definition), packed next to it.
            "shared": ["cloud/handlers/bounds.py", "firmware/press.py"],
            "memory_mb": 128,
            "timeout_s": 10,
            "log_retention_days": LOG_RETENTION_DAYS,
            "environment": {
                "EVENT_SOURCE": SOURCE,
                # The command goes to the target feeder's own action topic ({thing} filled in per press).
                "ACTION_TOPIC": action_topic("{thing}"),
                # The target of a press whose origin names no thing (an IoT 1-Click button), and each
                # remote button's feeder as compact JSON: cloud/household.py's topology fills them in.
                "DEFAULT_FEEDER": THING,
                "BUTTON_ROUTES": "{}",
                "COMMAND_TTL_S": str(COMMAND_TTL_S),
            },
            # The account's data endpoint https://<prefix>-ats.iot.<region>.amazonaws.com, found at deploy.
            "environment_refs": {"IOT_DATA_ENDPOINT": "iot_data_endpoint"},
            # Every feeder's action topic (`*` stands for the thing name), no other topic.
            "grants": [(["iot:Publish"], ("topic", action_topic("*")))],
            "async": {"max_retries": 2, "max_event_age_s": COMMAND_TTL_S, "on_failure_queue": "feeds_failed"},
        },
        "schedules": {
            "name": "feedmyfurbabies-schedules",
            "module": "schedules",
            "description": "ScheduleChanged -> the desired state of the feeder's `schedule` shadow",
            "shared": ["cloud/schedule.py", "firmware/press.py"],
            "memory_mb": 128,
            "timeout_s": 10,
            "log_retention_days": LOG_RETENTION_DAYS,
            "environment": {"EVENT_SOURCE": SOURCE},
            "environment_refs": {"IOT_DATA_ENDPOINT": "iot_data_endpoint"},
            # Every thing's `schedule` shadow (arn ...:thing/<thing>/<shadow name>), nothing else.
            "grants": [(["iot:GetThingShadow", "iot:UpdateThingShadow"], ("thing", "*/" + SCHEDULE_SHADOW))],
            "async": {"max_retries": 2, "max_event_age_s": 6 * 3600, "on_failure_queue": "feeds_failed"},
        },
        "alerts": {
            "name": "feedmyfurbabies-alerts",
            "module": "alerts",
            "description": "Device answers and a schedule -> incidents -> SNS, once per incident",
            # The projector's store, conflict retries and last-will slack, packed next to it.
            "shared": ["cloud/handlers/projector.py"],
            "memory_mb": 128,
            "timeout_s": 30,
            "log_retention_days": LOG_RETENTION_DAYS,
            # ALERTS: the household's alert settings as compact JSON (cloud/household.py's topology fills it).
            "environment": {"ALERTS": DEFAULT_ALERTS},
            "environment_refs": {"INCIDENTS_TABLE": "incidents_table", "ALERTS_TOPIC_ARN": "alerts_topic"},
            "grants": [
                (["dynamodb:GetItem", "dynamodb:PutItem"], ("incidents_table",)),
                (["sns:Publish"], ("alerts_topic",)),
            ],
            "async": {"max_retries": 2, "max_event_age_s": 6 * 3600, "on_failure_queue": "alerts_failed"},
        },
    },
    "rules": [
        {
            "name": "feeds",
            "description": "Live presses feed; device answers and replays of the archive never do",
            "event_pattern": {
                "source": [SOURCE],
                "detail-type": [DETAIL_TYPE],
                "replay-name": [{"exists": False}],
            },
            "targets": [
                {
                    "id": "feeder",
                    "function": "feeder",
                    "dead_letter_queue": "feeds_failed",
                    "retry": {"max_attempts": 8, "max_event_age_s": COMMAND_TTL_S},
                },
            ],
        },
        {
            "name": "history",
            "description": "Every press and device answer, live or replayed, into the feeding history",
            "event_pattern": {"source": [SOURCE, DEVICE_SOURCE]},
            "targets": [
                {
                    "id": "projector",
                    "function": "projector",
                    "dead_letter_queue": "history_failed",
                    "retry": {"max_attempts": 8, "max_event_age_s": 24 * 3600},
                },
            ],
        },
        {
            "name": "schedules",
            "description": "Live schedule changes into the feeder's shadow; replays never write it",
            "event_pattern": {
                "source": [SOURCE],
                "detail-type": [SCHEDULE_CHANGED],
                "replay-name": [{"exists": False}],
            },
            "targets": [
                {
                    "id": "schedules",
                    "function": "schedules",
                    "dead_letter_queue": "feeds_failed",
                    "retry": {"max_attempts": 8, "max_event_age_s": 24 * 3600},
                },
            ],
        },
        {
            "name": "alerts",
            # Replays reach it too (incidents rebuild like the history); the handler never notifies for them.
            "description": "Device answers, live or replayed, into the incidents; only live ones notify",
            "event_pattern": {
                "source": [SOURCE, DEVICE_SOURCE],
                "detail-type": [{"anything-but": [DETAIL_TYPE]}],
            },
            "targets": [
                {
                    "id": "alerts",
                    "function": "alerts",
                    "dead_letter_queue": "alerts_failed",
                    "retry": {"max_attempts": 8, "max_event_age_s": 6 * 3600},
                },
            ],
        },
        {
            "name": "replays",
            "description": "Replayed presses only, to a queue",
            "event_pattern": {"source": [SOURCE], "replay-name": [{"exists": True}]},
            "targets": [
                {
                    "id": "replays-queue",
                    "queue": "replays",
                    "dead_letter_queue": "feeds_failed",
                    "retry": {"max_attempts": 8, "max_event_age_s": 24 * 3600},
                },
            ],
        },
    ],
    # The clock of the alerts (offline for N minutes, back online, quiet): an EventBridge scheduled rule on
    # the account's default bus (schedules run only there) invoking the function with `input`. Offline is
    # seen up to `rate` after its threshold; the hub runs the same check on a timer (cloud/hub/alerting.py).
    "schedules": [
        {
            "name": "feedmyfurbabies-alerts-check",
            "description": "Every minute: incidents whose time has come (offline, back online, quiet)",
            "expression": "rate(1 minute)",
            "function": "alerts",
            "input": {"check": True},
        },
    ],
    # The rule the replay tool must never target.
    "live_rule": "feeds",
    # The household's things, each with its role (firmware/config.py ROLES): cloud/household.py's topology
    # fills them in from the household file; the deployer gives each its thing and certificate.
    "things": [{"name": THING, "role": "feeder"}],
    # One IoT policy per role, attached to the certificate of each thing of that role. The hub's mosquitto
    # ACL grants the same per role (cloud/hub/acl.py): a topic a role gains is added here, once.
    "iot_policies": [
        {
            "name": "cat-feeder-device",
            "role": "feeder",
            # (action, resource kind, name) with resource kinds of IoT's ARNs; the deployer prefixes the ARN.
            "statements": [
                ("iot:Connect", "client", THING_NAME_VARIABLE),
                # Each topic is the connected thing's own: IoT Core substitutes the variable per connection.
                ("iot:Subscribe", "topicfilter", action_topic(THING_NAME_VARIABLE)),
                ("iot:Receive", "topic", action_topic(THING_NAME_VARIABLE)),
                ("iot:Publish", "topic", states_topic(THING_NAME_VARIABLE)),
                # The retained `online` status and the broker's `offline` will.
                ("iot:RetainPublish", "topic", states_topic(THING_NAME_VARIABLE)),
                ("iot:Publish", "topic", button_topic(THING_NAME_VARIABLE)),
                # Its own `schedule` shadow: ask for it, report what it runs, hear of changes.
                ("iot:Publish", "topic", shadow_topic(THING_NAME_VARIABLE, "get")),
                ("iot:Publish", "topic", shadow_topic(THING_NAME_VARIABLE, "update")),
                ("iot:Subscribe", "topicfilter", shadow_topic(THING_NAME_VARIABLE, "get/accepted")),
                ("iot:Subscribe", "topicfilter", shadow_topic(THING_NAME_VARIABLE, "get/rejected")),
                ("iot:Subscribe", "topicfilter", shadow_topic(THING_NAME_VARIABLE, "update/delta")),
                ("iot:Receive", "topic", shadow_topic(THING_NAME_VARIABLE, "get/accepted")),
                ("iot:Receive", "topic", shadow_topic(THING_NAME_VARIABLE, "get/rejected")),
                ("iot:Receive", "topic", shadow_topic(THING_NAME_VARIABLE, "update/delta")),
            ],
        },
        {
            # A remote button board (firmware role `button`, no servos): it may connect as its own thing
            # and publish presses on its own button topic, nothing else (no status, no commands).
            "name": "cat-feeder-button",
            "role": "button",
            "statements": [
                ("iot:Connect", "client", THING_NAME_VARIABLE),
                ("iot:Publish", "topic", button_topic(THING_NAME_VARIABLE)),
            ],
        },
        {
            # A feeder's own jobs (updates over the air, docs/protocol.md): a policy of its own, as the device
            # policy is near AWS IoT's 2048 characters per policy document (tests/cloud/test_strict_aws.py).
            # Ask for the next job, hear of a new one, report progress on any of its job ids (`*`: IoT
            # policies' wildcard; the hub's ACL writes `+`).
            "name": "cat-feeder-device-jobs",
            "role": "feeder",
            "statements": [
                ("iot:Publish", "topic", jobs_topic(THING_NAME_VARIABLE, "$next/get")),
                ("iot:Publish", "topic", jobs_topic(THING_NAME_VARIABLE, "*/update")),
                ("iot:Subscribe", "topicfilter", jobs_topic(THING_NAME_VARIABLE, "notify-next")),
                ("iot:Subscribe", "topicfilter", jobs_topic(THING_NAME_VARIABLE, "$next/get/accepted")),
                ("iot:Receive", "topic", jobs_topic(THING_NAME_VARIABLE, "notify-next")),
                ("iot:Receive", "topic", jobs_topic(THING_NAME_VARIABLE, "$next/get/accepted")),
            ],
        },
    ],
    # The role IoT Core assumes for topic rule actions that need one (each rule's error action).
    "topic_rules_role": {"name": "feedmyfurbabies-topic-rules-role"},
    "topic_rules": [
        {
            "name": "cat_feeder_button",
            # `thing` comes from the topic, which the device policy pins to the publisher's own thing name;
            # fields are listed so a `thing` inside the payload is dropped, never trusted.
            "sql": "SELECT v, event, at, seq, topic(2) AS thing FROM '%s'" % BUTTON_TOPIC_FILTER,
            "function": "button",
            # Where IoT Core puts a message whose action failed (e.g. the function could not be invoked).
            "error_queue": "presses_failed",
        },
        {
            "name": "cat_feeder_states",
            # The device's message with `thing` from the topic: a `thing` in the payload is replaced, so
            # a certificate can write only its own thing's history.
            "sql": "SELECT *, topic(2) AS thing FROM '%s'" % STATES_TOPIC_FILTER,
            "function": "states",
            "error_queue": "presses_failed",
        },
        {
            "name": "cat_feeder_schedule_reported",
            # What a feeder says it runs, from the shadow service's own answer to its report (so only
            # accepted reports), as a `schedule` state message for the states function (ScheduleReported).
            "sql": "SELECT 1 AS v, 'schedule' AS type, topic(3) AS thing, timestamp AS at,"
            " state.reported.version AS version, state.reported.clock AS clock,"
            " state.reported.error AS error FROM '%s' WHERE isUndefined(state.reported) = false"
            % shadow_topic("+", "update/accepted"),
            "function": "states",
            "error_queue": "presses_failed",
        },
        {
            "name": "cat_feeder_job_outcomes",
            # An update's outcome (docs/protocol.md, "In the ledger"): IoT Jobs' job execution events
            # (succeeded, failed, rejected, timed_out, canceled, removed; make ota VIA=aws turns them on),
            # for the states function to map as the hub does (cloud/handlers/updates.py).
            "sql": "SELECT 1 AS v, 'job' AS type, jobId AS job, thingArn AS thing_arn, status,"
            " statusDetails AS details, timestamp AS at FROM '%s'" % JOB_EXECUTION_EVENTS,
            "function": "states",
            "error_queue": "presses_failed",
        },
    ],
}


def local_environment(function_key, topology=TOPOLOGY):
    """The environment of one function when it runs locally (the hub, the AWS rehearsal): its
    `environment` as declared and each `environment_refs` entry resolved to the named topology entry's
    name. References to what only exists once deployed (the iot:Data-ATS endpoint, cloud/aws/deploy.py)
    have no local value: the local clients stand in."""
    function = topology["functions"][function_key]
    values = dict(function["environment"])
    references = function["environment_refs"].items()
    values.update({var: topology[ref]["name"] for var, ref in references if ref in topology})
    return values

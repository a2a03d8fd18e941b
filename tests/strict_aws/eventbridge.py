"""EventBridge rules AWS enforces and moto does not: input transformers (PutTargets) and PutEvents limits;
and `target_input`, what a target receives for an input transformer as AWS documents it."""

import json
import re

from tests.strict_aws.errors import refuse

TRANSFORM_DOC = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html"
PUT_EVENTS_SIZE_DOC = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html"
PUT_EVENTS_DOC = "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html"
INPUT_TRANSFORMER_DOC = (
    "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html"
)

# TRANSFORM_DOC, "Predefined variables": usable without a JSON path, reserved as InputPathsMap keys.
RULE_ARN, RULE_NAME = "aws.events.rule-arn", "aws.events.rule-name"
INGESTION_TIME = "aws.events.event.ingestion-time"
EVENT_WITHOUT_DETAIL, WHOLE_EVENT = "aws.events.event", "aws.events.event.json"
PREDEFINED = (RULE_ARN, RULE_NAME, INGESTION_TIME, EVENT_WITHOUT_DETAIL, WHOLE_EVENT)
# TRANSFORM_DOC: "You can define up to 100 variables";
# INPUT_TRANSFORMER_DOC: keys match this pattern, 1 to 256 long.
MAX_VARIABLES = 100
VARIABLE_NAME = re.compile(r"[A-Za-z0-9_\-]{1,256}")
PLACEHOLDER = re.compile(r"<([^<>\s]+)>")
# PUT_EVENTS_DOC: 1 to 10 entries per request;
# PUT_EVENTS_SIZE_DOC: "The total entry size must be less than 256KB".
MAX_ENTRIES = 10
MAX_TOTAL_ENTRY_BYTES = 256 * 1024
TIME_BYTES = 14  # PUT_EVENTS_SIZE_DOC: "If specified, the Time parameter is 14 bytes."


def check_input_transformer(target_id, transformer):
    """The reasons AWS refuses this InputTransformer (empty when it accepts it)."""
    paths = transformer.get("InputPathsMap", {})
    problems = []
    if len(paths) > MAX_VARIABLES:
        problems.append(
            "target %s: %d InputPathsMap variables, at most %d" % (target_id, len(paths), MAX_VARIABLES)
        )
    for name in paths:
        if name in PREDEFINED:
            problems.append(
                "target %s: InputPathsMap redefines the predefined variable %s" % (target_id, name)
            )
        elif not VARIABLE_NAME.fullmatch(name):
            problems.append("target %s: InputPathsMap key %r is not [A-Za-z0-9_-]{1,256}" % (target_id, name))
    template = transformer["InputTemplate"]
    for match in PLACEHOLDER.finditer(template):
        name = match.group(1)
        # TRANSFORM_DOC: both event variables "can only be used as a value for a JSON field" (not escaped).
        if name in (EVENT_WITHOUT_DETAIL, WHOLE_EVENT) and in_quotes(template, match.start()):
            problems.append("target %s: <%s> inside a JSON string" % (target_id, name))
        if name not in paths and name not in PREDEFINED:
            problems.append(
                "target %s: InputTemplate placeholder <%s> is neither in InputPathsMap nor predefined"
                % (target_id, name)
            )
    return problems


def in_quotes(template, position):
    """Whether position falls inside a JSON string of the template."""
    return template[:position].count('"') % 2 == 1


def put_targets(params, **_):
    for target in params.get("Targets", []):
        if "InputTransformer" in target:
            problems = check_input_transformer(target.get("Id"), target["InputTransformer"])
            if problems:
                raise refuse("PutTargets", "ValidationException", "; ".join(problems), TRANSFORM_DOC)


def entry_size(entry):
    """PUT_EVENTS_SIZE_DOC: Time counts 14 bytes; Source, DetailType, Detail and each Resource
    their UTF-8 bytes."""
    size = TIME_BYTES if entry.get("Time") is not None else 0
    for field in ("Source", "DetailType", "Detail"):
        size += len(entry.get(field, "").encode("utf-8"))
    return size + sum(len(resource.encode("utf-8")) for resource in entry.get("Resources", []))


def put_events(params, **_):
    entries = params.get("Entries", [])
    if len(entries) > MAX_ENTRIES:
        raise refuse(
            "PutEvents",
            "ValidationException",
            "%d entries in one PutEvents, at most %d" % (len(entries), MAX_ENTRIES),
            PUT_EVENTS_DOC,
        )
    total = sum(map(entry_size, entries))
    if total >= MAX_TOTAL_ENTRY_BYTES:
        raise refuse(
            "PutEvents",
            "ValidationException",
            "entries total %d bytes, must be less than %d" % (total, MAX_TOTAL_ENTRY_BYTES),
            PUT_EVENTS_SIZE_DOC,
        )


SCHEDULE_DOC = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-rule-schedule.html"
SCHEDULE_PATTERN_DOC = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html"
)
# SCHEDULE_PATTERN_DOC: rate(value unit), value a positive integer, unit minute(s), hour(s) or day(s):
# "If the value is equal to 1, then the unit must be singular", and plural otherwise.
RATE = re.compile(r"rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)")


def put_rule(params, **_):
    expression = params.get("ScheduleExpression")
    if expression is None:
        return
    # SCHEDULE_DOC: "you can only create scheduled rules using the default event bus".
    bus = params.get("EventBusName", "default")
    if bus != "default" and not bus.endswith(":event-bus/default"):
        raise refuse(
            "PutRule",
            "ValidationException",
            "ScheduleExpression is supported only on the default event bus",
            SCHEDULE_DOC,
        )
    match = RATE.fullmatch(expression)
    if expression.startswith("rate(") and (
        not match or (match.group(1) == "1") != (not match.group(2).endswith("s"))
    ):
        raise refuse(
            "PutRule",
            "ValidationException",
            "Parameter ScheduleExpression %r: rate(N unit), singular exactly when N is 1" % expression,
            SCHEDULE_PATTERN_DOC,
        )


CHECKS = {"PutTargets": put_targets, "PutEvents": put_events, "PutRule": put_rule}


def json_path(event, path):
    """The value at a dot-notation path such as `$.detail.thing` (None when absent)."""
    value = event
    for key in path.removeprefix("$").strip(".").split(".") if path != "$" else ():
        value = value.get(key) if isinstance(value, dict) else None
    return value


def target_input(transformer, event, rule_arn, rule_name, ingestion_time=None):
    """What a target receives for `event` through `transformer`, as TRANSFORM_DOC defines each variable:
    `<aws.events.event>` is the original event *without its `detail` field*, `<aws.events.event.json>` the
    whole event, both inserted as JSON; InputPathsMap values as JSON, or as bare text inside a quoted string.
    Returns the parsed JSON when the result is JSON, else the text."""
    problems = check_input_transformer("target", transformer)
    if problems:
        raise ValueError("; ".join(problems))
    values = {
        RULE_ARN: rule_arn,
        RULE_NAME: rule_name,
        INGESTION_TIME: ingestion_time or event.get("time"),
        EVENT_WITHOUT_DETAIL: {key: value for key, value in event.items() if key != "detail"},
        WHOLE_EVENT: event,
    }
    values.update(
        {name: json_path(event, path) for name, path in transformer.get("InputPathsMap", {}).items()}
    )
    template = transformer["InputTemplate"]
    out, position = [], 0
    for match in PLACEHOLDER.finditer(template):
        out.append(template[position : match.start()])
        value = values[match.group(1)]
        quoted = in_quotes(template, match.start())
        out.append(value if quoted and isinstance(value, str) else json.dumps(value))
        position = match.end()
    text = "".join(out) + template[position:]
    try:
        return json.loads(text)
    except ValueError:
        return text

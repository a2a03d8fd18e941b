"""IoT rules-engine SQL as AWS documents it and moto never parses: the SQL version, `topic(n)` within the
levels of the FROM topic filter, and no bare keyword of the grammar used as a field name or alias."""

import re

from tests.strict_aws.errors import refuse

SQL_DOC = "https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-reference.html"
VERSIONS_DOC = "https://docs.aws.amazon.com/iot/latest/developerguide/iot-rule-sql-version.html"
TOPIC_FUNCTION_DOC = (
    "https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html#iot-function-topic"
)

# VERSIONS_DOC: the versions of the rules engine; a rule without one runs the default, 2015-10-08.
SQL_VERSIONS = ("2015-10-08", "2016-03-23", "beta")
DEFAULT_SQL_VERSION = "2015-10-08"
# The keywords of the grammar SQL_DOC and its pages (clauses, operators, case statements, literals) define:
# as a bare field name or alias they make the statement unparsable. Quote such a field ("at") to use it.
RESERVED = frozenset(
    "SELECT FROM WHERE AS SET AND OR NOT IN IS LIKE BETWEEN CASE WHEN THEN ELSE END TRUE FALSE NULL".split()
)
STATEMENT = re.compile(r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+'(?P<topic>[^']*)'(?P<rest>.*)$", re.I | re.S)
TOPIC_CALL = re.compile(r"\btopic\s*\(\s*(-?\d+)\s*\)", re.I)
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def select_items(fields):
    """The comma-separated items of a SELECT list (commas inside parentheses or quotes do not split)."""
    items, depth, quote, current = [], 0, None, ""
    for char in fields:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(current.strip())
            current = ""
            continue
        current += char
    return items + [current.strip()]


def check_sql(sql, version):
    """The reasons AWS IoT refuses this rule SQL (empty when it accepts it)."""
    problems = []
    if version not in SQL_VERSIONS:
        problems.append(
            "awsIotSqlVersion %r is not one of %s (%s)" % (version, ", ".join(SQL_VERSIONS), VERSIONS_DOC)
        )
    statement = STATEMENT.match(sql)
    if not statement:
        return problems + ["not of the form SELECT ... FROM 'topic filter' [WHERE ...] (%s)" % SQL_DOC]
    levels = len(statement["topic"].split("/"))
    for number in map(int, TOPIC_CALL.findall(sql)):
        if not 1 <= number <= levels:
            problems.append(
                "topic(%d) outside the %d levels of %r (%s)"
                % (number, levels, statement["topic"], TOPIC_FUNCTION_DOC)
            )
    for item in select_items(statement["fields"]):
        words = re.split(r"\s+AS\s+", item, flags=re.I)
        for word in (words[0], words[-1]) if len(words) == 2 else words:
            if IDENTIFIER.match(word) and word.upper() in RESERVED:
                problems.append("reserved word %s used as a field name or alias (%s)" % (word, SQL_DOC))
    return problems


def topic_rule(operation):
    def check(params, **_):
        payload = params["topicRulePayload"]
        problems = check_sql(payload["sql"], payload.get("awsIotSqlVersion", DEFAULT_SQL_VERSION))
        if problems:
            raise refuse(operation, "SqlParseException", "; ".join(problems), SQL_DOC)

    return check


# Thing attributes, which moto stores whatever their number and spelling.
THING_TYPES_DOC = "https://docs.aws.amazon.com/iot/latest/developerguide/thing-types.html"
THING_ATTRIBUTE_DOC = "https://docs.aws.amazon.com/iot/latest/apireference/API_ThingAttribute.html"
# THING_TYPES_DOC: "Things with a thing type can have up to 50 attributes. Things without a thing type can
# have up to three attributes."
MAX_ATTRIBUTES = {False: 3, True: 50}
# THING_ATTRIBUTE_DOC: the thing name's pattern and length, each attribute key's and value's.
THING_NAME = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
ATTRIBUTE_KEY = re.compile(r"[a-zA-Z0-9_.,@/:#-]{1,128}")
ATTRIBUTE_VALUE = re.compile(r"[a-zA-Z0-9_.,@/:#=\[\]-]{0,800}")


def check_attributes(attributes, typed):
    """The reasons AWS IoT refuses these thing attributes (empty when it accepts them)."""
    problems = []
    if len(attributes) > MAX_ATTRIBUTES[typed]:
        problems.append(
            "%d attributes on a thing %s a thing type, at most %d (%s)"
            % (len(attributes), "with" if typed else "without", MAX_ATTRIBUTES[typed], THING_TYPES_DOC)
        )
    for key, value in attributes.items():
        if not ATTRIBUTE_KEY.fullmatch(key):
            problems.append("attribute name %r (%s)" % (key, THING_ATTRIBUTE_DOC))
        if not ATTRIBUTE_VALUE.fullmatch(value):
            problems.append("attribute %s value %r (%s)" % (key, value, THING_ATTRIBUTE_DOC))
    return problems


def thing_attributes(operation):
    def check(params, **_):
        attributes = params.get("attributePayload", {}).get("attributes", {})
        # The request's own attributes and thing type; an UpdateThing that merges into stored attributes
        # (merge true) is not counted with them here.
        problems = check_attributes(attributes, typed=bool(params.get("thingTypeName")))
        if not THING_NAME.fullmatch(params["thingName"]):
            problems.append("thing name %r (%s)" % (params["thingName"], THING_ATTRIBUTE_DOC))
        if problems:
            raise refuse(operation, "InvalidRequestException", "; ".join(problems), THING_TYPES_DOC)

    return check


# An IoT policy's size, which moto never limits: "policyDocument must have a minimum length of 1, with a
# maximum length of 2048, excluding whitespace" (POLICY_DOC, also CreatePolicyVersion's page).
POLICY_DOC = "https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicy.html"
MAX_POLICY_CHARACTERS = 2048


def policy_characters(document):
    return len(re.sub(r"\s", "", document))


def policy_size(operation):
    def check(params, **_):
        size = policy_characters(params["policyDocument"])
        if size > MAX_POLICY_CHARACTERS:
            raise refuse(
                operation,
                "InvalidRequestException",
                "policy document of %d characters without whitespace, over %d"
                % (size, MAX_POLICY_CHARACTERS),
                POLICY_DOC,
            )

    return check


# CreateJob: jobId "Length Constraints: Minimum length of 1. Maximum length of 64. Pattern: [a-zA-Z0-9_-]+";
# document "Maximum length of 32768"; targets, 1 or more ARNs of things or thing groups (JOB_DOC).
JOB_DOC = "https://docs.aws.amazon.com/iot/latest/apireference/API_CreateJob.html"
JOB_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
MAX_JOB_DOCUMENT = 32768
TARGET = re.compile(r"arn:aws[a-z-]*:iot:[a-z0-9-]+:[0-9]{12}:(thing|thinggroup)/[a-zA-Z0-9:_-]{1,128}")


def create_job(params, **_):
    if not JOB_ID.fullmatch(params["jobId"]):
        raise refuse("CreateJob", "InvalidRequestException",
                     "jobId %r: 1-64 characters of [a-zA-Z0-9_-]" % params["jobId"], JOB_DOC)
    if len(params.get("document", "")) > MAX_JOB_DOCUMENT:
        raise refuse("CreateJob", "InvalidRequestException",
                     "document of %d characters, over %d" % (len(params["document"]), MAX_JOB_DOCUMENT),
                     JOB_DOC)
    if not params["targets"] or not all(TARGET.fullmatch(target) for target in params["targets"]):
        raise refuse("CreateJob", "InvalidRequestException",
                     "targets %r: ARNs of things or thing groups" % params["targets"], JOB_DOC)


CHECKS = {
    "CreateJob": create_job,
    "CreatePolicy": policy_size("CreatePolicy"),
    "CreatePolicyVersion": policy_size("CreatePolicyVersion"),
    "CreateTopicRule": topic_rule("CreateTopicRule"),
    "ReplaceTopicRule": topic_rule("ReplaceTopicRule"),
    "CreateThing": thing_attributes("CreateThing"),
    "UpdateThing": thing_attributes("UpdateThing"),
}


# What a rule hands its action: moto stores a rule's SQL and never runs it.
SELECT_DOC = "https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-select.html"
ALIASED = re.compile(r"^(?P<expression>.+?)\s+AS\s+(?P<alias>[A-Za-z_][A-Za-z0-9_]*)$", re.I)


def rule_output(sql, topic, payload):
    """The object the rule's SELECT makes of a JSON `payload` published on `topic`, for the items this
    project uses (SELECT_DOC): `*` (the whole payload), a field name or a dotted path into nested objects
    (JSON_EXTENSIONS_DOC), an integer or 'string' literal, `topic(n)`, each with an optional `AS alias`;
    an absent field is left out. Items apply in order, so a later item replaces an earlier key of the same
    name (`SELECT *, topic(2) AS thing`: the topic's thing, not the payload's). None when the FROM filter
    does not match the topic or the WHERE clause, of the one form `isUndefined(path) = false`, is false
    (the rule does not run)."""
    statement = STATEMENT.match(sql)
    if statement is None or not topic_matches(statement["topic"], topic):
        return None
    where = statement["rest"].strip()
    if where:
        defined = WHERE_DEFINED.fullmatch(where)
        if defined is None:
            raise ValueError("WHERE %r is not one this emulation evaluates" % where)
        if _path(payload, defined["path"]) is _ABSENT:
            return None
    output = {}
    for item in select_items(statement["fields"]):
        if item == "*":
            output.update(payload)
            continue
        aliased = ALIASED.match(item)
        expression, name = (aliased["expression"], aliased["alias"]) if aliased else (item, item)
        level = TOPIC_CALL.fullmatch(expression)
        if level:
            output[name] = topic.split("/")[int(level.group(1)) - 1]
        elif re.fullmatch(r"-?\d+", expression):
            output[name] = int(expression)
        elif re.fullmatch(r"'[^']*'", expression):
            output[name] = expression[1:-1]
        elif DOTTED.match(expression):
            value = _path(payload, expression)
            if value is not _ABSENT:
                output[name] = value
        else:
            raise ValueError("SELECT item %r is not one this emulation evaluates" % item)
    return output


JSON_EXTENSIONS_DOC = "https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-json.html"
DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
WHERE_DEFINED = re.compile(r"WHERE\s+isUndefined\(\s*(?P<path>[A-Za-z0-9_.]+)\s*\)\s*=\s*false", re.I)
_ABSENT = object()


def _path(payload, dotted):
    value = payload
    for name in dotted.split("."):
        if not isinstance(value, dict) or name not in value:
            return _ABSENT
        value = value[name]
    return value


def topic_matches(topic_filter, topic):
    """MQTT topic filter matching: `+` one level, a trailing `#` any levels."""
    levels, wanted = topic.split("/"), topic_filter.split("/")
    if wanted[-1] == "#":
        wanted, levels = wanted[:-1], levels[: len(wanted) - 1]
    if len(levels) != len(wanted):
        return False
    return all(w in ("+", level) for w, level in zip(wanted, levels, strict=True))


# IoT policies (IOT_POLICY_DOC): Allow statements, resources with `*`/`?` wildcards, and the thing-name
# policy variable substituted per connection (THING_VARIABLE_DOC).
IOT_POLICY_DOC = "https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html"
THING_VARIABLE_DOC = "https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-variables.html"
THING_NAME_VARIABLE = "${iot:Connection.Thing.ThingName}"
ATTACHED = {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}


def policy_allows(document, action, resource, thing):
    """Whether the IoT policy `document` allows `action` on the ARN `resource` to a connection whose
    certificate is attached to `thing`. Refuses what this evaluation does not model (a Deny, another
    condition) instead of guessing."""
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow" or statement.get("Condition", ATTACHED) != ATTACHED:
            raise ValueError("statement %r is not one this evaluation models" % (statement,))
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        patterns = [_wildcard(pattern.replace(THING_NAME_VARIABLE, thing)) for pattern in resources]
        if action in actions and any(pattern.fullmatch(resource) for pattern in patterns):
            return True
    return False


def _wildcard(pattern):
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))

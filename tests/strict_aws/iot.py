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


CHECKS = {
    "CreateTopicRule": topic_rule("CreateTopicRule"),
    "ReplaceTopicRule": topic_rule("ReplaceTopicRule"),
}

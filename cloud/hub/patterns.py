"""EventBridge event patterns, for the operators cloud/topology.py uses: exact values, `prefix`,
`exists` and `anything-but` (a value, a list, or `{"prefix": ...}`), nested objects and array fields.

Semantics as EventBridge documents them (and moto implements; tests/hub/test_patterns.py compares the
two on generated cases): every key of the pattern must match; a list of filters matches when any one
does; an array in the event matches when any of its elements does; a field missing from the event
matches only `{"exists": false}`. An operator outside this set raises UnsupportedPattern at load time,
so a topology using one fails when the hub starts, not by silently matching nothing.
"""

MISSING = object()
OPERATORS = ("prefix", "exists", "anything-but")


class UnsupportedPattern(ValueError):
    """The pattern uses an operator or shape the hub does not implement."""


def check(pattern, path="pattern"):
    """Raise UnsupportedPattern unless every leaf is a non-empty list of supported filters."""
    if not isinstance(pattern, dict):
        raise UnsupportedPattern("%s: expected an object" % path)
    for key, value in pattern.items():
        where = "%s.%s" % (path, key)
        if isinstance(value, dict):
            check(value, where)
        elif not isinstance(value, list) or not value:
            raise UnsupportedPattern("%s: expected an object or a non-empty array" % where)
        else:
            for condition in value:
                if isinstance(condition, dict):
                    _check_operator(condition, where)


def _check_operator(condition, where):
    if len(condition) != 1 or next(iter(condition)) not in OPERATORS:
        raise UnsupportedPattern(
            "%s: operator %r is not one of %s" % (where, condition, ", ".join(OPERATORS))
        )
    ((name, argument),) = condition.items()
    if name == "exists" and not isinstance(argument, bool):
        raise UnsupportedPattern("%s: exists takes true or false" % where)
    if name == "prefix" and not isinstance(argument, str):
        raise UnsupportedPattern("%s: prefix takes a string" % where)
    if name == "anything-but" and isinstance(argument, dict):
        _check_operator(argument, where)
        if "prefix" not in argument:
            raise UnsupportedPattern("%s: anything-but takes a value, a list or a prefix" % where)


def matches(pattern, event):
    """True when the event (a dict) matches the pattern (a dict already accepted by check)."""
    for key, expected in pattern.items():
        value = event.get(key, MISSING) if isinstance(event, dict) else MISSING
        if isinstance(expected, dict):
            # A nested pattern needs a nested object; anything else cannot satisfy its leaves
            # except `exists: false`, which the recursion handles with MISSING.
            if not matches(expected, value if isinstance(value, dict) else {}):
                return False
        elif not _any_filter(expected, value):
            return False
    return True


def _any_filter(filters, value):
    return any(_filter(condition, value) for condition in filters)


def _filter(condition, value):
    if isinstance(condition, dict):
        ((name, argument),) = condition.items()
        if name == "exists":
            return (value is not MISSING) == argument
    if value is MISSING:
        return False
    if isinstance(value, list):
        return any(_filter(condition, element) for element in value)
    if not isinstance(condition, dict):
        return value == condition and type(value) is type(condition) or _same_number(value, condition)
    ((name, argument),) = condition.items()
    if name == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    # anything-but
    if isinstance(argument, dict):
        return not _filter(argument, value)
    excluded = argument if isinstance(argument, list) else [argument]
    return not any(value == other for other in excluded)


def _same_number(value, condition):
    return (
        isinstance(value, (int, float))
        and isinstance(condition, (int, float))
        and not isinstance(value, bool)
        and not isinstance(condition, bool)
        and value == condition
    )

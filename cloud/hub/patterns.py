"""EventBridge event patterns, for the operators cloud/topology.py uses: exact values, `prefix`,
`exists` and `anything-but` (a value, a list, or `{"prefix": ...}`), nested objects and array fields.

Semantics as EventBridge documents them (tests/hub/test_hub_patterns_aws.py holds the documented cases,
each with its page): every key of the pattern must match; a list of filters matches when any one does;
an array in the event matches when any of its elements does, and a nested pattern matched against an
array of objects needs one element that matches it whole; `exists` looks at leaves only, so a field
holding an object does not exist and a missing field matches only `{"exists": false}`; values compare
as JSON values (`true` is not `1`). moto agrees on generated cases without objects inside arrays or
booleans beside numbers (tests/hub/test_hub_patterns.py); it differs on those two.

A pattern EventBridge refuses raises InvalidPattern, an operator outside this set UnsupportedPattern,
both at load time, so a topology using one fails when the hub starts, not by silently matching nothing.
"""

MISSING = object()
OPERATORS = ("prefix", "exists", "anything-but")


class UnsupportedPattern(ValueError):
    """The pattern uses an operator or shape the hub does not implement."""


class InvalidPattern(UnsupportedPattern):
    """EventBridge itself refuses the pattern (PutRule answers InvalidEventPatternException)."""


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
    elif name == "anything-but":
        # "lists that contain only strings, or only numbers":
        # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
        values = argument if isinstance(argument, list) else [argument]
        if not values or not (all(isinstance(v, str) for v in values) or all(map(_is_number, values))):
            raise InvalidPattern("%s: anything-but takes only strings or only numbers: %r" % (where, values))


def matches(pattern, event):
    """True when the event (a dict) matches the pattern (a dict already accepted by check)."""
    for key, expected in pattern.items():
        value = event.get(key, MISSING) if isinstance(event, dict) else MISSING
        if isinstance(expected, dict):
            # A nested pattern against an object, or against each object of an array (the array is
            # "crushed out", one element at a time). Anything else satisfies no leaf but `exists: false`.
            if not any(matches(expected, inner) for inner in list(_objects(value)) or [{}]):
                return False
        elif not _any_filter(expected, value):
            return False
    return True


def _objects(value):
    if isinstance(value, dict):
        yield value
    elif isinstance(value, list):
        for element in value:
            yield from _objects(element)


def _any_filter(filters, value):
    return any(_filter(condition, value) for condition in filters)


def _filter(condition, value):
    if isinstance(condition, dict):
        ((name, argument),) = condition.items()
        if name == "exists":
            return _has_leaf(value) == argument
    if value is MISSING:
        return False
    if isinstance(value, list):
        return any(_filter(condition, element) for element in value)
    if not isinstance(condition, dict):
        return _equal(value, condition)
    ((name, argument),) = condition.items()
    if name == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    # anything-but
    if isinstance(argument, dict):
        return not _filter(argument, value)
    excluded = argument if isinstance(argument, list) else [argument]
    return not any(_equal(value, other) for other in excluded)


def _has_leaf(value):
    """Whether a field holds a value `exists` sees: it "only works on leaf nodes", not on objects."""
    if isinstance(value, list):
        return any(_has_leaf(element) for element in value)
    return value is not MISSING and not isinstance(value, dict)


def _equal(value, other):
    """Equal as JSON values: a boolean is never a number (Python has True == 1); 2 and 2.0 are equal."""
    if _is_number(value) and _is_number(other):
        return value == other
    return type(value) is type(other) and value == other


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)

"""DynamoDB's service-side request rules that moto does not apply, checked on the client before the request
leaves: a violation raises the ClientError (ValidationException) AWS would answer, with AWS's message.

    register(client)        # tests/strict_aws registers it on every boto3 client the tests create
    check(operation, params)

Rules (each cites where AWS documents it; the messages are the service's own):
- ExpressionAttributeNames / ExpressionAttributeValues present but empty;
- a name or value defined but used in no expression of the request, or used but not defined;
- an attribute name written into an expression unaliased although it is a reserved word
  (dynamodb_reserved_words.txt, DynamoDB's published list);
- an item over 400 KB (PutItem, and the Put of TransactWriteItems and BatchWriteItem). An UpdateItem can
  also grow an item past the limit; that needs the stored item and stays with the second emulator
  (dynalite, see tests/strict_aws/dynalite.py).
"""

import os
import re

from botocore.exceptions import ClientError

EXPRESSIONS = (
    "ConditionExpression",
    "KeyConditionExpression",
    "FilterExpression",
    "ProjectionExpression",
    "UpdateExpression",
)
_ATTRIBUTE_MAPS = ("ExpressionAttributeNames", "ExpressionAttributeValues")
# Parameters holding attribute values (data, where an attribute may be named like a parameter).
_ATTRIBUTE_VALUES = {"Item", "Key", "Keys", "ExclusiveStartKey", "ExpressionAttributeValues"}
MAX_ITEM_BYTES = 400 * 1024
# Words of the expression syntax itself (condition and update expressions), which are also on the list.
SYNTAX = {"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"}
TOKEN = re.compile(r"#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|\d+|\S")


def _reserved_words():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dynamodb_reserved_words.txt")
    with open(path) as words:
        return frozenset(line.strip() for line in words if line.strip() and not line.startswith("#"))


RESERVED = _reserved_words()


def register(client):
    client.meta.events.register("before-parameter-build.dynamodb", _before_parameter_build)


def _before_parameter_build(params, model, **_):
    check(model.name, params)


def check(operation, params):
    """Raise ClientError(ValidationException) where DynamoDB would refuse `params`."""
    for scope in _scopes(params):
        _check_expressions(operation, scope)
        if isinstance(scope.get("Item"), dict):
            _check_item_size(operation, scope["Item"])


def _scopes(value):
    """Every structure of the request that holds its own expressions or item (the request itself, each
    action of TransactWriteItems, each table of BatchGetItem, each request of BatchWriteItem)."""
    if isinstance(value, dict):
        if "Item" in value or any(key in value for key in EXPRESSIONS + _ATTRIBUTE_MAPS):
            yield value
        for name, child in value.items():
            if name not in _ATTRIBUTE_VALUES:
                yield from _scopes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _scopes(child)


def _refuse(operation, message):
    raise ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)


def _check_expressions(operation, scope):
    # The maps exist only to substitute into the request's expressions:
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ExpressionPlaceholders.html
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ExpressionAttributeValues.html
    # The pages do not spell out the errors; DynamoDB answers an empty map, an entry no expression uses and
    # a token no map defines with these ValidationExceptions (dynalite reproduces each, message for
    # message: test_strict_aws_dynamodb.py).
    for field in _ATTRIBUTE_MAPS:
        if field in scope and not scope[field]:
            _refuse(operation, "%s must not be empty" % field)
    used = {}  # expression field -> the #names and :values it uses
    for field in EXPRESSIONS:
        if isinstance(scope.get(field), str):
            used[field] = set(_tokens(operation, field, scope[field]))
    names, values = (
        set(scope.get("ExpressionAttributeNames") or ()),
        set(scope.get("ExpressionAttributeValues") or ()),
    )
    for field, tokens in used.items():
        for token in sorted(tokens - names - values):
            if token.startswith("#"):
                problem = (
                    "An expression attribute name used in the document path is not defined; attribute name"
                )
            else:
                problem = "An expression attribute value used in expression is not defined; attribute value"
            _refuse(operation, "Invalid %s: %s: %s" % (field, problem, token))
    everything = set().union(*used.values())
    for field, defined in (("ExpressionAttributeNames", names), ("ExpressionAttributeValues", values)):
        if defined - everything:
            _refuse(
                operation,
                "Value provided in %s unused in expressions: keys: {%s}"
                % (field, ", ".join(sorted(defined - everything))),
            )


def _tokens(operation, field, expression):
    """The #names and :values an expression uses; refuses an unaliased reserved word on the way.

    Reserved words (case-insensitive) cannot be attribute names in an expression, at any level of a
    document path: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ReservedWords.html
    A word followed by `(` is a function (attribute_exists, size, ...); SYNTAX words are operators."""
    tokens = TOKEN.findall(expression)
    for index, token in enumerate(tokens):
        if token[0] in "#:":
            yield token
        elif token[0].isalpha() or token[0] == "_":
            is_function = index + 1 < len(tokens) and tokens[index + 1] == "("
            word = token.upper()
            if not is_function and word not in SYNTAX and word in RESERVED:
                _refuse(
                    operation,
                    "Invalid %s: Attribute name is a reserved keyword; reserved keyword: %s" % (field, token),
                )


def _check_item_size(operation, item):
    # "The maximum item size in DynamoDB is 400 KB, which includes both attribute name binary length
    # (UTF-8 length) and attribute value lengths":
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
    # Sizes as https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
    if sum(len(name.encode()) + _value_size(value) for name, value in item.items()) > MAX_ITEM_BYTES:
        _refuse(operation, "Item size has exceeded the maximum allowed size")


def _value_size(value):
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return _number_size(content)
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(text.encode()) for text in content)
    if kind == "NS":
        return sum(_number_size(number) for number in content)
    if kind == "BS":
        return sum(len(blob) for blob in content)
    if kind == "L":  # 3 bytes for the list, 1 per element
        return 3 + sum(1 + _value_size(element) for element in content)
    if kind == "M":  # 3 bytes for the map, 1 per element, plus the keys
        return 3 + sum(1 + len(key.encode()) + _value_size(element) for key, element in content.items())
    raise ValueError("unknown attribute value type %r" % kind)


def _number_size(text):
    """Up to 38 significant digits, 1 byte per 2 of them, plus 1."""
    digits = len(text.lstrip("-").replace(".", "").lstrip("0").split("e")[0].split("E")[0]) or 1
    return (digits + 1) // 2 + 1

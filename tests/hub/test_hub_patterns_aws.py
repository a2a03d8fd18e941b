"""EventBridge's documented content filtering, case by case: each case is a pattern, an event, the answer
AWS documents for them (True, False, or INVALID: PutRule refuses the pattern) and the page that says so.
The hub's matcher (cloud/hub/patterns.py) must give every answer; moto's (moto.events.models.EventPattern)
is held to the cases where it agrees, and the cases where it does not are named, so either drifting shows.

Event Ruler is the open-source matching library of EventBridge (github.com/aws/event-ruler); its README
documents the array cases the user guide leaves out."""

import json

import pytest
from moto.events.exceptions import InvalidEventPatternException
from moto.events.models import EventPattern

from cloud.hub import patterns

FILTERING = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html"
OPERATORS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html"
PATTERNS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html"
ARRAYS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html"
RULER_ARRAYS = "https://github.com/aws/event-ruler#json-array-matching"
INVALID = "invalid"

EMPLOYEES = {
    "employees": [
        {"firstName": "John", "lastName": "Doe"},
        {"firstName": "Anna", "lastName": "Smith"},
        {"firstName": "Peter", "lastName": "Jones"},
    ]
}
EC2_STATE = {"detail-type": "EC2 Instance State-change Notification", "detail": {"state": "running"}}

# (name, pattern, event, AWS's answer, page, moto agrees)
CASES = [
    ("exists false, field absent", {"detail": {"c-count": [{"exists": False}]}}, EC2_STATE,
     True, FILTERING, True),
    ("exists false, field holds an object: not a leaf",
     {"detail": {"c-count": [{"exists": False}]}},
     {"detail": {"state": "running", "c-count": {"c1": 100}}}, True, FILTERING, True),
    ("exists true, field holds an object: not a leaf",
     {"detail": {"c-count": [{"exists": True}]}},
     {"detail": {"state": "running", "c-count": {"c1": 100}}}, False, FILTERING, True),
    ("exists true, field holds a number", {"detail": {"c-count": [{"exists": True}]}},
     {"detail": {"c-count": 5}}, True, FILTERING, True),
    ("nested pattern against an array of objects: any element",
     {"employees": {"firstName": ["Anna"]}}, EMPLOYEES, True, RULER_ARRAYS, False),
    ("nested pattern against an array of objects: fields of one element",
     {"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}, EMPLOYEES, True, RULER_ARRAYS, False),
    ("nested pattern against an array of objects: fields of two elements do not match",
     {"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}, EMPLOYEES, False, RULER_ARRAYS, True),
    ("array in the event: a non-empty intersection",
     {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:other"]},
     {"resources": ["arn:aws:autoscaling:us-east-1:123456789012:asg",
                    "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}, True, ARRAYS, True),
    ("anything-but 1 against true: a JSON true is not the number 1",
     {"detail": {"x": [{"anything-but": [1]}]}}, {"detail": {"x": True}}, True, PATTERNS, False),
    ("exact 1 against true", {"detail": {"x": [1]}}, {"detail": {"x": True}}, False, PATTERNS, False),
    ("exact true against true", {"detail": {"x": [True]}}, {"detail": {"x": True}}, True, PATTERNS, True),
    ("anything-but, a list mixing strings and numbers",
     {"detail": {"state": [{"anything-but": ["stopped", 100]}]}}, EC2_STATE, INVALID, FILTERING, False),
    ("anything-but a string", {"detail": {"state": [{"anything-but": "initializing"}]}}, EC2_STATE,
     True, FILTERING, True),
    ("anything-but a list of strings, value in it",
     {"detail": {"state": [{"anything-but": ["stopped", "running"]}]}}, EC2_STATE, False, FILTERING, True),
    ("anything-but a list of numbers, value in it",
     {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}, {"detail": {"x-limit": 200}},
     False, FILTERING, True),
    ("anything-but a list of numbers, value not in it",
     {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}, {"detail": {"x-limit": 150}},
     True, FILTERING, True),
    ("anything-but a prefix", {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}},
     {"detail": {"state": "initializing"}}, False, FILTERING, True),
    ("prefix", {"time": [{"prefix": "2017-10-02"}]}, {"time": "2017-10-02T18:43:48Z"}, True, FILTERING, True),
    ("null matches null", {"detail": {"responseElements": [None]}}, {"detail": {"responseElements": None}},
     True, PATTERNS, True),
    ("nested numbers", {"detail": {"risk-score": [80], "trigger": {"risk": [8]}}},
     {"detail": {"risk-score": 80, "trigger": {"risk": 8}}}, True, PATTERNS, True),
    ("every field named in the pattern must be in the event",
     {"source": ["aws.ec2"], "detail": {"state": ["running"]}}, EC2_STATE, False, OPERATORS, True),
]


def hub_answer(pattern, event):
    try:
        patterns.check(pattern)
    except patterns.InvalidPattern:
        return INVALID
    return patterns.matches(pattern, event)


def moto_answer(pattern, event):
    try:
        loaded = EventPattern.load(json.dumps(pattern))
    except InvalidEventPatternException:
        return INVALID
    return loaded.matches_event(event)


@pytest.mark.parametrize("name, pattern, event, answer, page, moto_agrees", CASES, ids=[c[0] for c in CASES])
def test_the_hub_answers_as_aws_documents(name, pattern, event, answer, page, moto_agrees):
    assert hub_answer(pattern, event) == answer, page


@pytest.mark.parametrize("name, pattern, event, answer, page, moto_agrees", CASES, ids=[c[0] for c in CASES])
def test_moto_answers_as_aws_where_it_agrees_and_the_differences_are_known(
    name, pattern, event, answer, page, moto_agrees
):
    assert (moto_answer(pattern, event) == answer) == moto_agrees, page

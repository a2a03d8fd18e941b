"""The hub's EventBridge pattern matcher (cloud/hub/patterns.py) against moto's, on generated events
and patterns using the operators of cloud/topology.py, and on the topology's own rules."""

import json
import random

import pytest
from moto.events.models import EventPattern

from cloud.hub import patterns
from cloud.topology import DEVICE_SOURCE, SOURCE, TOPOLOGY

# 1 and 0 are left out: Python (and so moto) holds True == 1, EventBridge does not.
VALUES = ["a", "ab", "abc", "b", "ba", "", 2, 3, 2.5, None, True, False]
KEYS = ["source", "detail-type", "replay-name", "x"]
NESTED = ["event", "status", "n"]


def random_value(rng):
    if rng.random() < 0.15:
        return [rng.choice(VALUES) for _ in range(rng.randint(1, 3))]
    return rng.choice(VALUES)


def random_event(rng):
    event = {key: random_value(rng) for key in KEYS if rng.random() < 0.6}
    if rng.random() < 0.7:
        event["detail"] = {key: random_value(rng) for key in NESTED if rng.random() < 0.6}
    return event


def random_condition(rng):
    kind = rng.choice(
        ["exact", "exact", "prefix", "exists", "anything-but", "anything-but-list", "anything-but-prefix"]
    )
    strings = [v for v in VALUES if isinstance(v, str)]
    if kind == "exact":
        return rng.choice(VALUES)
    if kind == "prefix":
        return {"prefix": rng.choice(strings)}
    if kind == "exists":
        return {"exists": rng.choice([True, False])}
    if kind == "anything-but":
        return {"anything-but": rng.choice([v for v in VALUES if not isinstance(v, bool) and v is not None])}
    if kind == "anything-but-list":
        # Strings only or numbers only: EventBridge refuses a mixed list (test_hub_patterns_aws.py).
        return {"anything-but": rng.sample(rng.choice([["a", "ab", "b"], [2, 3, 2.5]]), rng.randint(1, 3))}
    return {"anything-but": {"prefix": rng.choice(strings[1:])}}


def random_pattern(rng):
    pattern = {
        key: [random_condition(rng) for _ in range(rng.randint(1, 2))] for key in KEYS if rng.random() < 0.4
    }
    if rng.random() < 0.5:
        pattern["detail"] = {
            key: [random_condition(rng) for _ in range(rng.randint(1, 2))]
            for key in NESTED
            if rng.random() < 0.5
        } or {"event": [{"exists": True}]}
    return pattern or {"source": [rng.choice(VALUES)]}


def test_matcher_agrees_with_motos_on_generated_events_and_patterns():
    rng = random.Random(8)
    checked = matched = 0
    for _ in range(400):
        pattern = random_pattern(rng)
        patterns.check(pattern)
        theirs = EventPattern.load(json.dumps(pattern))
        for _ in range(10):
            event = random_event(rng)
            expected = theirs.matches_event(event)
            assert patterns.matches(pattern, event) == expected, (pattern, event)
            checked += 1
            matched += expected
    # The generator must exercise both answers, or the comparison proves little.
    assert checked == 4000 and 400 < matched < 3600


def press(**extra):
    return dict({"source": SOURCE, "detail-type": "FeedRequested", "detail": {"press_id": "p"}}, **extra)


def rule(name):
    return next(r for r in TOPOLOGY["rules"] if r["name"] == name)["event_pattern"]


def test_feeds_takes_live_presses_only():
    feeds = rule("feeds")
    assert patterns.matches(feeds, press())
    assert not patterns.matches(feeds, press(**{"replay-name": "r1"}))
    assert not patterns.matches(feeds, press(**{"detail-type": "FeedResult", "source": DEVICE_SOURCE}))
    assert not patterns.matches(feeds, press(**{"detail-type": "FeedResult"}))


def test_the_archive_keeps_presses_and_device_answers():
    archive = TOPOLOGY["archive"]["event_pattern"]
    assert patterns.matches(archive, press())
    assert patterns.matches(archive, press(source=DEVICE_SOURCE, **{"detail-type": "FeedResult"}))
    assert not patterns.matches(archive, press(source="com.example"))


@pytest.mark.parametrize(
    "pattern, why",
    [
        ({"source": [{"suffix": "x"}]}, "operator"),
        ({"source": []}, "non-empty array"),
        ({"source": "x"}, "non-empty array"),
        ({"source": [{"exists": "yes"}]}, "true or false"),
        ({"source": [{"anything-but": {"suffix": "x"}}]}, "operator"),
    ],
)
def test_patterns_the_hub_cannot_evaluate_are_refused_at_load(pattern, why):
    with pytest.raises(patterns.UnsupportedPattern, match=why):
        patterns.check(pattern)

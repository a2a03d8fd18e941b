"""Feeder function invoked directly with the events EventBridge's `feeds` rule would deliver; its
iot-data Publish goes to moto's server and is inspected on the wire."""

import json
import re
import time
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest

from cloud.handlers import button, feeder
from cloud.household import topology
from cloud.topology import (
    COMMAND_TTL_S,
    DETAIL_TYPE,
    SOURCE,
    THING,
    action_topic,
    local_environment,
)


def feeds_event(detail, **extra):
    """The envelope EventBridge hands a Lambda target."""
    return dict(
        {
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": DETAIL_TYPE,
            "source": SOURCE,
            "account": "123456789012",
            "time": "2026-11-26T21:03:11Z",
            "region": "eu-west-1",
            "resources": [],
            "detail": detail,
        },
        **extra,
    )


def fresh_detail(event="SINGLE", age_s=5, thing=THING):
    press = {"v": 1, "event": event, "at": int(time.time()) - age_s, "seq": 3, "thing": thing}
    return button.parse_press(press)


ENVIRONMENT = local_environment("feeder")
ACTION_TOPIC = action_topic(THING)


@pytest.fixture
def iot_data(aws):
    # The deployer gives the function the account's https://...-ats.iot... endpoint; here, moto's.
    return boto3.client("iot-data", endpoint_url=aws)


@pytest.fixture
def context(iot_data):
    return feeder.Context(iot_data, ENVIRONMENT)


@pytest.fixture
def published(iot_data):
    """Every Publish request the feeder sends (topic, query, payload), after moto accepted it."""
    sent = []

    def record(request, **kwargs):
        url = urlsplit(request.url)
        sent.append(
            {
                "url": request.url,
                "topic": unquote(url.path.split("/topics/", 1)[1]),
                "query": parse_qs(url.query),
                "headers": dict(request.headers),
                "payload": request.body,
            }
        )

    iot_data.meta.events.register("before-send.iot-data.Publish", record)
    return sent


def test_a_feeds_event_is_published_as_a_v1_command_with_qos1_and_expiry(aws, context, published):
    detail = fresh_detail("DOUBLE", age_s=5)
    assert feeder.handle(feeds_event(detail), context) == {"status": "published", "id": detail["press_id"]}
    (publish,) = published
    assert publish["url"].startswith(aws + "/topics/")
    assert publish["topic"] == ACTION_TOPIC
    assert json.loads(publish["payload"]) == {
        "v": 1,
        "id": detail["press_id"],
        "event": "DOUBLE",
        "issued_at": detail["pressed_at"],
        "ttl": COMMAND_TTL_S,
    }
    assert publish["query"]["qos"] == ["1"]
    expiry = int(publish["query"]["messageExpiry"][0])
    assert COMMAND_TTL_S - 7 <= expiry <= COMMAND_TTL_S - 4  # the TTL minus the press's age
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", detail["press_id"])


def test_each_press_goes_to_the_action_topic_of_the_thing_that_pressed(context, published):
    for thing in ("kitchen", "hall", "kitchen"):
        feeder.handle(feeds_event(fresh_detail(thing=thing)), context)
    assert [publish["topic"] for publish in published] == [
        "cat-feeder/kitchen/action", "cat-feeder/hall/action", "cat-feeder/kitchen/action"
    ]


def test_a_remote_buttons_press_goes_to_the_feeder_the_household_maps_it_to(iot_data, published):
    household = {"timezone": "UTC", "things": [
        {"thing": "kitchen", "role": "feeder"}, {"thing": "bedroom", "role": "feeder"},
        {"thing": "hall-button", "role": "button", "feeds": "bedroom"}]}
    routed = feeder.Context(iot_data, local_environment("feeder", topology(household)))
    for thing in ("hall-button", "kitchen", "bedroom"):
        feeder.handle(feeds_event(fresh_detail(thing=thing)), routed)
    # The remote button feeds its feeder; each feeder's own button feeds itself.
    assert [publish["topic"] for publish in published] == [
        "cat-feeder/bedroom/action", "cat-feeder/kitchen/action", "cat-feeder/bedroom/action"
    ]


def test_a_1click_press_names_no_thing_and_goes_to_the_default_feeder(context, published):
    click = {"deviceInfo": {"deviceId": "G030PM0123456789"},
             "deviceEvent": {"buttonClicked": {"clickType": "SINGLE", "reportedTime": time.strftime(
                 "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 2))}}}
    feeder.handle(feeds_event(button.parse_press(click)), context)
    assert [publish["topic"] for publish in published] == [action_topic(ENVIRONMENT["DEFAULT_FEEDER"])]


def test_a_redelivered_event_publishes_the_identical_command(context, published):
    event = feeds_event(fresh_detail())
    feeder.handle(event, context)
    feeder.handle(json.loads(json.dumps(event)), context)
    assert published[0]["payload"] == published[1]["payload"]


def test_a_replayed_event_is_refused_and_nothing_is_published(context, published):
    result = feeder.handle(feeds_event(fresh_detail(), **{"replay-name": "replay-1795730000"}), context)
    assert result["status"] == "refused" and "replay-1795730000" in result["reason"]
    assert published == []


def test_a_press_older_than_its_ttl_is_not_published(context, published):
    detail = fresh_detail(age_s=COMMAND_TTL_S + 1)
    assert feeder.handle(feeds_event(detail), context) == {"status": "expired", "id": detail["press_id"]}
    assert published == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("SINGLE", "event: expected a JSON object, got str"),
        (feeds_event({}, source="com.example"), "source: expected 'com.feedmyfurbabies', got 'com.example'"),
        (feeds_event("{}"), "detail: expected an object"),
        (
            feeds_event({"press_id": "a b", "event": "SINGLE", "pressed_at": 1}),
            "detail.press_id: expected 1-64",
        ),
        (
            feeds_event({"press_id": "x" * 65, "event": "SINGLE", "pressed_at": 1}),
            "detail.press_id: expected 1-64",
        ),
        (feeds_event({"press_id": "p", "event": "TRIPLE", "pressed_at": 1}), "detail.event: expected SINGLE"),
        (
            feeds_event({"press_id": "p", "event": "LONG", "pressed_at": "now"}),
            "detail.pressed_at: expected Unix",
        ),
        (
            feeds_event({"press_id": "p", "event": "LONG", "pressed_at": True}),
            "detail.pressed_at: expected Unix",
        ),
        # The thing becomes a topic level: a wildcard or a separator would address other feeders.
        (feeds_event(dict(fresh_detail(), button="+")), "detail.button: expected 1-64"),
        (feeds_event(dict(fresh_detail(), button="a/b")), "detail.button: expected 1-64"),
        (feeds_event(dict(fresh_detail(), button=None)), "detail.button: expected 1-64"),
    ],
)
def test_a_malformed_event_is_logged_and_rejected_never_raised_so_it_is_not_retried(
    context, published, capsys, event, message
):
    result = feeder.handle(event, context)
    assert result["status"] == "rejected" and message in result["reason"]
    assert json.loads(capsys.readouterr().out) == {"outcome": "rejected", "reason": result["reason"]}
    assert published == []


def test_the_lambda_entry_point_builds_its_context_from_the_deployed_environment(aws, monkeypatch):
    """`feeder.handler` (what Lambda calls) reads the environment the deployer sets (cloud/topology.py)."""
    for variable, value in dict(ENVIRONMENT, IOT_DATA_ENDPOINT=aws).items():
        monkeypatch.setenv(variable, value)
    feeder.deployed.cache_clear()
    try:
        sent = []
        feeder.deployed().iot_data.meta.events.register(
            "before-send.iot-data.Publish", lambda request, **kwargs: sent.append(request.url)
        )
        detail = fresh_detail()
        assert feeder.handler(feeds_event(detail)) == {"status": "published", "id": detail["press_id"]}
        assert [url.split("?")[0] for url in sent] == [aws + "/topics/" + ACTION_TOPIC.replace("/", "%2F")]
    finally:
        feeder.deployed.cache_clear()


def test_without_the_endpoint_the_feeder_fails_clearly_and_publishes_nothing(aws, monkeypatch):
    for variable, value in ENVIRONMENT.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("IOT_DATA_ENDPOINT", raising=False)
    feeder.deployed.cache_clear()
    try:
        # Raised, so Lambda retries and then parks the feed in the on-failure queue: it is not lost.
        with pytest.raises(feeder.MissingEndpoint, match="IOT_DATA_ENDPOINT is not set: .*iot:Data-ATS"):
            feeder.handler(feeds_event(fresh_detail()))
    finally:
        feeder.deployed.cache_clear()


def test_every_command_carries_integer_times_even_from_a_fractional_press(context, published):
    # A 1-Click reportedTime has milliseconds (a button's `at` is an integer: the handler rejects a float
    # one, see test_cloud_button_handler.py). The device rejects a float issued_at (single-precision
    # floats on the ESP32), so every command must carry integers.
    now = time.time()
    clicks = [
        {"deviceInfo": {"deviceId": "G030PM0123456789"},
         "deviceEvent": {"buttonClicked": {"clickType": "SINGLE", "reportedTime": stamp}}}
        for stamp in (time.strftime("%Y-%m-%dT%H:%M:%S.987Z", time.gmtime(now - 2)),)
    ]
    presses = [{"v": 1, "event": "LONG", "at": int(now) - 1, "seq": 4, "thing": "cat-feeder"}]
    details = [button.parse_press(p) for p in clicks + presses]
    for detail in details:
        command = feeder.command_for(feeds_event(detail), context)
        assert all(type(command[field]) is int for field in ("v", "issued_at", "ttl")), command
        assert command["issued_at"] <= detail["pressed_at"] < command["issued_at"] + 1
        feeder.handle(feeds_event(detail), context)
    assert len(published) == len(details)
    for request in published:
        body = json.loads(request["payload"])
        assert type(body["issued_at"]) is int and type(body["ttl"]) is int, body

"""Press the button without a button: publish one v1 press on cat-feeder/<thing>/button.

    python -m cloud.press SINGLE|DOUBLE|LONG [--thing T] [--via hub|aws] [--port N] [--pki .pki]
    python -m cloud.press LONG --via aws [--region R] [--profile P] [--endpoint-url URL]

`make press EVENT=SINGLE` runs this (docs/protocol.md, "Button press"; the message comes from
firmware/press.py, as on a board):
- `--via hub` (default): the broker of the self-hosted hub (`make hub`, cloud/hub/) on 127.0.0.1,
  over mutual TLS with the publisher certificate of the development PKI (.pki/); the port is
  --port, default the hub's 8883.
- `--via aws`: the deployed stack, through IoT Core's iot-data API on the account's
  `iot:Data-ATS` endpoint (QoS 1). It first checks that the stack's topic rule exists, so a
  press never vanishes into an account where nothing listens.

`at` is now in whole seconds; `seq` is the current time in milliseconds modulo 2^32 (a seq is an
unsigned 32-bit number, docs/protocol.md "Bounds"), so two presses made with this tool never share
an id, even within one second.
The thing is one of the household file (cloud/household.py; --household, default household.json), by
default its first feeder (`cat-feeder` without the file); a thing the file does not name is refused.
The line it prints names the feeder the press targets: the thing itself, or for a remote button the
feeder the household file maps it to.
Every failure is one line on stderr naming what to do, and exit status 1.
"""

import argparse
import os
import sys
import threading
import time

from botocore.exceptions import BotoCoreError, ClientError

from cloud import household
from cloud.aws import session
from cloud.handlers import bounds
from cloud.hub.pki import DEFAULT_DIR as DEFAULT_PKI_DIR
from cloud.hub.pki import CredentialsError, Pki
from cloud.topology import button_topic
from firmware.press import EVENTS, press_id, press_message

HUB_PORT = 8883  # `make hub`'s default (cloud/hub/__main__.py)
BUTTON_RULE = "cat_feeder_button"
PUBLISH_TIMEOUT_S = 5.0


class PressError(Exception):
    """A failure the user can fix; the message says how."""


def new_press(event, now=None):
    """(at, seq, message) for a press made now."""
    now = time.time() if now is None else now
    at, seq = int(now), int(now * 1000) % (bounds.MAX_SEQ + 1)
    return at, seq, press_message(event, at, seq)


def publish_to_hub(thing, message, port, pki_dir=DEFAULT_PKI_DIR, timeout_s=PUBLISH_TIMEOUT_S):
    """QoS 1 on the hub's broker with paho-mqtt, as the hub's own clients (cloud/hub/ingest.py): returns
    once the broker acknowledged the press (PUBACK)."""
    from cloud.hub.ingest import mqtt_client

    pki = Pki(pki_dir, thing)
    if not (os.path.exists(pki.cert("publisher")) and os.path.exists(pki.key("publisher"))):
        raise PressError("no publisher certificate in %s: run `make pki` (the hub creates it too)" % pki.dir)
    try:
        client = mqtt_client(pki, "publisher", "cat-feeder-press-%d" % (time.monotonic_ns() % 10**9))
    except CredentialsError as error:
        raise PressError(str(error)) from None
    answered, refusal = threading.Event(), []

    def on_connect(client, userdata, flags, reason, properties):
        if reason.is_failure:
            refusal.append(str(reason))
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect("127.0.0.1", port, keepalive=30)
    except ConnectionRefusedError:
        raise PressError("no broker listening on 127.0.0.1:%d: start the hub (make hub) or pass its "
                         "BROKER_PORT=" % port) from None
    except OSError as error:  # ssl.SSLError is an OSError
        raise PressError(_refused(port, error, pki)) from None
    client.loop_start()
    try:
        if not answered.wait(timeout_s) or refusal:
            raise PressError(_refused(port, refusal[0] if refusal else "no CONNACK", pki))
        published = client.publish(button_topic(thing), message, qos=1)
        published.wait_for_publish(timeout_s)
        if not published.is_published():
            raise PressError(_refused(port, "no PUBACK within %.0f s" % timeout_s, pki))
    finally:
        client.disconnect()
        client.loop_stop()


def _refused(port, why, pki):
    return "broker on 127.0.0.1:%d refused the press (%s): is it the hub's broker, with the CA in %s?" % (
        port, why, pki.dir)


def iot_data_client(aws):
    """iot-data on the account's own ATS endpoint (the legacy endpoint serves a Symantec-signed
    certificate); an --endpoint-url (moto) overrides it, as for every other client."""
    endpoint = aws.client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    return aws.session.client("iot-data", endpoint_url=aws.endpoint_url or "https://" + endpoint)


def stack_deployed(iot):
    """Whether the stack's button topic rule exists. Listed, not fetched: IoT may answer GetTopicRule for a
    missing rule with UnauthorizedException, which is also what a real permission error looks like."""
    for page in iot.get_paginator("list_topic_rules").paginate():
        if any(rule["ruleName"] == BUTTON_RULE for rule in page.get("rules", [])):
            return True
    return False


def publish_to_aws(thing, message, args):
    try:
        aws = session.AwsEnv.from_args(args)
        if not stack_deployed(aws.client("iot")):
            raise PressError(
                "no cat feeder stack deployed in %s (topic rule %s not found): run `make deploy` first, "
                "or press on the hub (leave out VIA=aws)" % (aws.region, BUTTON_RULE)
            )
        iot_data_client(aws).publish(topic=button_topic(thing), qos=1, payload=message)
    except (BotoCoreError, ClientError) as error:
        raise PressError(session.explain(error)) from None
    return "AWS IoT Core (%s)" % aws.region


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cloud.press", description=__doc__.splitlines()[0])
    parser.add_argument("event", metavar="EVENT", help="SINGLE, DOUBLE or LONG")
    parser.add_argument("--thing", help="a thing of the household file (default: its first feeder)")
    parser.add_argument("--via", choices=("hub", "aws"), default="hub")
    parser.add_argument("--port", type=int, default=HUB_PORT, help="the hub's broker port")
    parser.add_argument("--pki", default=DEFAULT_PKI_DIR, help="development PKI folder (hub)")
    parser.add_argument("--household", default=household.PATH, help="the household file (default: none)")
    session.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        if args.event not in EVENTS:
            raise PressError("EVENT=%s: expected SINGLE, DOUBLE or LONG, as in make press EVENT=SINGLE"
                             % args.event)
        args.thing, target = feeder_of(args.thing, args.household)
        at, seq, message = new_press(args.event)
        if args.via == "aws":
            where = publish_to_aws(args.thing, message, args)
        else:
            publish_to_hub(args.thing, message, args.port, args.pki)
            where = "the hub's broker on 127.0.0.1:%d" % args.port
    except PressError as error:
        print("press: %s" % error, file=sys.stderr)
        return 1
    print("press: %s for feeder %s published on %s to %s (at %d, seq %d, press id %s)"
          % (args.event, target, button_topic(args.thing), where, at, seq,
             press_id(args.thing, args.event, at, seq)))
    return 0


def feeder_of(thing, household_path):
    """(thing, the feeder a press of its button targets) as the feeder function routes it
    (cloud/handlers/feeder.py's target_feeder), with its friendly name; thing None: the household's
    first feeder."""
    try:
        known = household.load(household_path)
        if thing is None:
            thing = next(entry["thing"] for entry in known["things"] if entry["role"] == "feeder")
        household.thing(known, thing)
    except household.HouseholdError as error:
        raise PressError(str(error)) from None
    feeder = household.routes(known).get(thing, thing)
    named = [entry["name"] for entry in known["things"] if entry["thing"] == feeder]
    return thing, "%s (%s)" % (feeder, named[0]) if named else feeder


if __name__ == "__main__":
    sys.exit(main())

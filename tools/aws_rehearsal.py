"""The AWS rehearsal: the boto3 path on moto's server, no AWS account and no board:
`make rehearsal` (python -m tools.aws_rehearsal). `make demo` runs the self-hosted hub (tools/demo.py).

    button handler ─PutEvents─► EventBridge on moto's server (bus, archive, rules from cloud/topology.py)
      ─ rule feeds ─► queue ─► feeder handler ─(iot-data stand-in)─► mosquitto ─► firmware on MicroPython

Starts moto's server (tools.moto_server), the local broker with the dev PKI (cloud.hub.broker, .pki/) and
the firmware on the unix port with a fresh flash in a temp dir (tools.device); then presses SINGLE,
DOUBLE and LONG through the real handlers, redelivers one press, replays the archive, and prints what
each part did. Stops everything it started, also on Ctrl-C or error; exit 0 only when every step
showed what it should.

The two stand-ins (the only parts that cannot exist here):
- rule targets are SQS queues, not the feeder Lambda: moto cannot invoke Lambda targets (PutEvents
  fails with 500). The demo reads the `feeds` queue and calls the feeder with each event, as
  EventBridge would.
- the feeder's iot-data client (AWS IoT Core's data plane) is `LocalIotData`: the same topic, payload
  and QoS, published to mosquitto with the cloud-publisher certificate.
"""

import json
import os
import sys
import time
from datetime import datetime, timezone

from cloud.aws import replay as replay_tool
from cloud.aws.iam import Arns
from cloud.aws.session import DEFAULT_REGION, AwsEnv
from cloud.handlers import button, feeder
from cloud.hub.broker import Broker
from cloud.hub.pki import Pki
from cloud.topology import THING, TOPOLOGY, local_environment, states_topic
from tools.demo_stage import (
    EXPECTED_BOWLS,
    PKI_DIR,
    PRESSES,
    UP_TIMEOUT_S,
    DemoFailed,
    DeviceProcess,
    run,
    say,
    show_servo_writes,
    step,
)
from tools.moto_server import MotoServer, fake_credentials
from tools.mqttc import MqttClient

STATES_TOPIC = states_topic(THING)

RESULT_TIMEOUT_S = 15
QUEUE_TIMEOUT_S = 5
QUIET_S = 1.5  # how long the demo listens to show that nothing more arrives


class LocalIotData:
    """The feeder's iot-data client, against the local broker: IoT Core cannot exist here.

    Same topic, payload and QoS; the MQTT 5 properties (messageExpiry, payloadFormatIndicator) have no
    MQTT 3.1.1 equivalent, and the device enforces the command's TTL itself."""

    def __init__(self, client):
        self.client = client

    def publish(self, topic, qos, payload, **mqtt5_properties):
        self.client.publish(topic, payload, qos)
        return {}


class Demo:
    def __init__(self, stack, workdir):
        self.stack = stack
        self.workdir = workdir
        self.rule_queues = {}  # rule name -> queue URL

    # 1. The stand-ins
    def start_everything(self):
        step("1. Local stand-ins: moto (AWS), mosquitto (IoT Core), the firmware on MicroPython's unix port")
        moto = MotoServer().start()
        self.stack.callback(moto.stop)
        os.environ.update(fake_credentials(moto.url, DEFAULT_REGION))
        os.environ.pop("AWS_PROFILE", None)
        self.aws = AwsEnv(region=DEFAULT_REGION, endpoint_url=moto.url)
        say("moto server on %s (fake credentials, region %s)" % (moto.url, DEFAULT_REGION))
        self.pki = Pki(PKI_DIR, THING).ensure()
        say("development PKI in %s" % self.pki.dir)
        broker = Broker(self.pki, os.path.join(self.workdir, "broker")).start()
        self.stack.callback(broker.stop)
        self.broker = broker
        say("mosquitto on 127.0.0.1:%d: mutual TLS, ACL as the IoT policies" % broker.port)
        self.device = DeviceProcess(os.path.join(self.workdir, "flash"), self.pki, broker.port)
        self.stack.callback(self.device.stop)
        say("firmware on MicroPython, fresh flash in %s" % self.device.flash)
        self.device.wait_for("app: up", UP_TIMEOUT_S)
        self.observer = MqttClient(self.pki, broker.port, "observer")
        self.stack.callback(self.observer.close)
        if self.observer.subscribe(STATES_TOPIC, 1) != 1:
            raise DemoFailed("the observer could not subscribe to %s" % STATES_TOPIC)
        say("cloud observer (cloud-observer certificate) watches %s" % STATES_TOPIC)
        publisher = MqttClient(self.pki, broker.port, "publisher")
        self.stack.callback(publisher.close)
        # The feeder takes its client in its Context, as the hub's runtime gives it the hub's.
        self.feeder = feeder.Context(
            LocalIotData(publisher),
            local_environment("feeder"),
            log=lambda line: say("  feeder log| " + line),
        )
        say("feeder's iot-data client -> mosquitto as cloud-publisher (AWS IoT Core cannot exist here)")

    # 2. The bus
    def create_bus(self):
        step("2. EventBridge bus, archive and rules from cloud/topology.py")
        events, sqs = self.aws.client("events"), self.aws.client("sqs")
        bus = events.create_event_bus(Name=TOPOLOGY["bus"]["name"])["EventBusArn"]
        archive = TOPOLOGY["archive"]
        events.create_archive(
            ArchiveName=archive["name"], EventSourceArn=bus, EventPattern=json.dumps(archive["event_pattern"])
        )
        say("bus %s, archive %s (the ledger)" % (TOPOLOGY["bus"]["name"], archive["name"]))
        say("moto cannot invoke Lambda targets (PutEvents fails with 500), so every rule targets a queue:")
        for rule in TOPOLOGY["rules"]:
            url, name, in_aws = self._rule_queue(sqs, rule)
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            pattern = json.dumps(rule["event_pattern"])
            events.put_rule(Name=rule["name"], EventBusName=TOPOLOGY["bus"]["name"], EventPattern=pattern)
            events.put_targets(
                Rule=rule["name"], EventBusName=TOPOLOGY["bus"]["name"], Targets=[{"Id": "queue", "Arn": arn}]
            )
            self.rule_queues[rule["name"]] = url
            say("  rule %-7s %s -> queue %s (in AWS: %s)" % (rule["name"], pattern, name, in_aws))
        self.events, self.sqs = events, sqs

    def _rule_queue(self, sqs, rule):
        (target,) = rule["targets"]
        if "queue" in target:
            name = TOPOLOGY["queues"][target["queue"]]["name"]
            in_aws = "the same queue"
        else:
            function = TOPOLOGY["functions"][target["function"]]["name"]
            name = "%s-demo-%s" % (TOPOLOGY["bus"]["name"], rule["name"])
            in_aws = "the Lambda %s" % function
            if rule["name"] == TOPOLOGY["live_rule"]:
                in_aws += "; here the demo calls the feeder handler with each event"
        return sqs.create_queue(QueueName=name)["QueueUrl"], name, in_aws

    def drain(self, rule_name, expected, timeout_s=QUEUE_TIMEOUT_S):
        """The events in a rule's queue: wait for `expected` of them, then take whatever else is there."""
        url, bodies = self.rule_queues[rule_name], []
        deadline = time.monotonic() + timeout_s
        while True:
            wait = 1 if len(bodies) < expected and time.monotonic() < deadline else 0
            messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
            messages = messages.get("Messages", [])
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            if not messages and (len(bodies) >= expected or time.monotonic() >= deadline):
                return bodies

    # 3. Presses
    def press_all(self):
        step("3. Three presses: button handler -> bus -> rule feeds -> feeder handler -> device, as observed")
        env = local_environment("button")
        presses = button.Context(self.events, env)
        self.feeds = {}
        for seq, click in enumerate(PRESSES, start=1):
            say()
            press = {"v": 1, "event": click, "at": int(time.time()), "seq": seq, "thing": THING}
            say("press %s: button message %s" % (click, json.dumps(press)))
            put = button.handle(press, presses)
            say("  button handler -> PutEvents on %s: press_id %s" % (env["EVENT_BUS_NAME"], put["press_id"]))
            (event,) = self.drain("feeds", 1)
            if event["detail"]["press_id"] != put["press_id"]:
                raise DemoFailed(
                    "the feeds queue holds %r, not press %s" % (event["detail"], put["press_id"])
                )
            say("  rule feeds -> event %s (detail-type %s)" % (event["id"], event["detail-type"]))
            self.feeds[click] = event
            result = self.feed(event)
            if result["status"] != "dispensed" or result["bowls"] != EXPECTED_BOWLS[click]:
                raise DemoFailed("%s: expected dispensed %s, got %r" % (click, EXPECTED_BOWLS[click], result))
        self.pressed_at = [self.feeds[click]["detail"]["pressed_at"] for click in PRESSES]

    def feed(self, event):
        """Call the feeder as EventBridge would; show its log, the device's result and the servo writes."""
        trace_before = len(self.device.trace())
        answer = self.call_feeder(event)
        if answer["status"] != "published":
            raise DemoFailed("the feeder did not publish: %r" % answer)
        result = self.result_for(answer["id"])
        say(
            "  device -> %s: seq=%d id=%s status=%s bowls=%s"
            % (STATES_TOPIC, result["seq"], result["id"], result["status"], json.dumps(result["bowls"]))
        )
        writes = self.device.trace()[trace_before:]
        self.device.print_output()
        show_servo_writes(writes, self.device.config["servos"])
        result["servo_writes"] = len(writes)
        return result

    def call_feeder(self, event):
        answer = feeder.handle(json.loads(json.dumps(event)), self.feeder)
        say("  feeder handler -> %s" % json.dumps(answer))
        return answer

    def result_for(self, command_id, timeout_s=RESULT_TIMEOUT_S):
        deadline = time.monotonic() + timeout_s
        while True:
            message = self.observer.receive(max(0.0, deadline - time.monotonic()))
            if message is None:
                raise DemoFailed("no result for %s on %s within %d s" % (command_id, STATES_TOPIC, timeout_s))
            body = json.loads(message[1])
            if body.get("type") == "result" and body.get("id") == command_id:
                return body
            if body.get("type") == "status":
                say("  device -> %s: status %s" % (STATES_TOPIC, body.get("status")))

    # 4. Redelivery
    def redeliver(self):
        step("4. At-least-once: the SINGLE press's event is delivered to the feeder a second time")
        result = self.feed(self.feeds["SINGLE"])
        if result["status"] != "duplicate" or result["servo_writes"]:
            raise DemoFailed("a redelivered press must be a duplicate with no servo motion, got %r" % result)
        say("  -> duplicate: the device journaled the id before the first dispense; no servo moved")

    # 5. Replay
    def replay(self):
        step("5. Replaying the archive to the `replays` rule only (cloud/aws/replay.py's start and follow)")
        rules = replay_tool.chosen_rules("replays")
        name = "demo-replay-%d" % time.time()
        # Asks for the SINGLE press only; moto replays the whole archive (see below).
        start = datetime.fromtimestamp(self.pressed_at[0] - 1, tz=timezone.utc)
        end = datetime.fromtimestamp(self.pressed_at[0] + 0.5, tz=timezone.utc)
        arns = Arns(self.aws.partition, self.aws.region, self.aws.account)
        replay_tool.start(self.events, arns, start, end, rules, name)
        say(
            "start_replay %s: %s .. %s, FilterArns %s"
            % (name, start.isoformat(), end.isoformat(), [arns.rule(TOPOLOGY, r) for r in rules])
        )
        final = replay_tool.follow(
            self.events, name, start, end, poll_s=0.2, out=lambda line: say("  " + line)
        )
        if final["State"] != "COMPLETED":
            raise DemoFailed("replay %s ended %s" % (name, final["State"]))
        replayed = self.drain("replays", 1)
        live = self.drain("feeds", 0, timeout_s=0)
        say(
            "queue of rule replays: %d replayed event(s) %s"
            % (len(replayed), [(e["detail"]["event"], e.get("replay-name")) for e in replayed])
        )
        say("queue of rule feeds:   %d event(s)" % len(live))
        if not replayed or live or any(e.get("replay-name") != name for e in replayed):
            raise DemoFailed(
                "replayed events must reach `replays` only: replays %r, feeds %r" % (replayed, live)
            )
        if len(replayed) > 1:
            say(
                "moto ignores the time window and FilterArns (cloud/README.md): it resent all %d archived"
                " presses, where AWS would resend the SINGLE press only, and only to `replays`."
                % len(replayed)
            )
        say("The feeds pattern (replay-name must not exist) kept every replayed event off the feeder.")
        say()
        say("Should a replayed event reach the feeder anyway, it refuses it:")
        trace_before = len(self.device.trace())
        answer = self.call_feeder(replayed[0])
        if answer["status"] != "refused":
            raise DemoFailed("the feeder must refuse a replayed event, got %r" % answer)
        say("  -> replay refused by the feeder: %s" % answer["reason"])
        quiet_deadline = time.monotonic() + QUIET_S
        while (message := self.observer.receive(max(0.0, quiet_deadline - time.monotonic()))) is not None:
            body = json.loads(message[1])
            if body.get("type") == "result":
                raise DemoFailed("the device got a command after the replay: %r" % body)
        if len(self.device.trace()) != trace_before:
            raise DemoFailed("a servo moved after the replay")
        say("  -> no command reached the device, no servo moved")


def tell(stack, workdir):
    demo = Demo(stack, workdir)
    demo.start_everything()
    demo.create_bus()
    demo.press_all()
    demo.redeliver()
    demo.replay()


def main():
    return run(
        tell,
        "6. Stopping the device, mosquitto and moto",
        "three presses fed their bowls, the redelivery was a duplicate, replays never fed",
    )


if __name__ == "__main__":
    sys.exit(main())

"""The schedule's named shadow, device side (docs/protocol.md, "Schedule shadow"): the same topics
and flow on AWS IoT and on the hub.

At every connect, and on every `update/delta`, the device asks for the whole document (`get`);
`get/accepted` brings `state.desired`, applied only when its version is newer than the applied one
(schedule_doc.py checks it, imported for that call only); then the device reports on `update` the
version it runs, its clock (`ntp` once NTP set it since boot, else `untrusted`) and, for a refused
document, the error. The callbacks only note what to send: the main loop sends it (`send`), as the
link's callbacks never send.
"""

import bootonly

# The subscribed topics' suffixes; the link hands topics over as bytes.
ACCEPTED = b"/get/accepted"
REJECTED = b"/get/rejected"
DELTA = b"/update/delta"
# get/rejected's message (code 404) for a shadow never written, AWS IoT's and the hub's
NO_SHADOW = b"No shadow exists"


class Shadow:
    def __init__(self, topic, schedule, clock, log):
        """topic: the thing's `$aws/things/<thing>/shadow/name/schedule` (config.py builds it)."""
        self.schedule = schedule
        self.clock = clock
        self.log = log
        self.topic = topic  # the rest is built when used: its strings would stay in the heap
        self.want_get = False
        self.want_report = False
        self.error = None  # why the last newer document was refused
        self.reported = None  # (version, clock trusted, error) last reported this session

    def subscriptions(self):
        """The topics the device subscribes to (the link keeps them for its SUBSCRIBE)."""
        topic = self.topic
        return topic + ACCEPTED.decode(), topic + REJECTED.decode(), topic + DELTA.decode()

    def on_connect(self):
        self.want_get = True
        self.reported = None  # one report per session at least (the hub learns the version)

    def on_message(self, topic, payload):
        """True when topic is one of the shadow's (handled); False: not ours. The broker delivers only
        the subscribed topics, so the suffix tells them apart."""
        if topic.endswith(DELTA):
            self.want_get = True
        elif topic.endswith(ACCEPTED):
            schedule = self.schedule
            version, body, error = bootonly.call("schedule_doc", "desired", payload, schedule.version)
            if body is not None:
                schedule.apply(body)
                self.error = None
                self.log("schedule: applied version", version)
            elif error is not None:
                self.error = error
                self.log("schedule: refused", error)
            self.want_report = True
        elif topic.endswith(REJECTED):
            if NO_SHADOW in payload:  # a feeder nobody gave a schedule yet: the usual first start
                self.log("schedule: none set yet")
            else:
                self.log("schedule: get rejected", payload[:80])
        else:
            return False
        return True

    def send(self, link):
        """Send what the callbacks asked for (while connected); QoS 1, re-asked after a reconnect.

        A report goes out only when it says something new this session: on AWS IoT the device's own
        update yields a delta (the desired fields it does not report), whose `get` brings the same
        version back, and reporting that again would loop."""
        if self.want_get and link.send(self.topic + "/get", b"{}", 1) >= 0:
            self.want_get = False
        trusted = self.clock.clock_trusted()
        if self.reported is not None and trusted != self.reported[1]:
            self.want_report = True  # NTP set the clock since the last report
        if not self.want_report:
            return
        state = (self.schedule.version, trusted, self.error)
        if state == self.reported:
            self.want_report = False
            return
        message = bootonly.call("schedule_doc", "reported", state[0], trusted, self.error)
        if link.send(self.topic + "/update", message, 1) >= 0:
            self.want_report = False
            self.reported = state

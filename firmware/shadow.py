"""The schedule's named shadow, device side (docs/protocol.md, "Schedule shadow"): the same topics
and flow on AWS IoT and on the hub.

At every connect, and on every `update/delta`, the device asks for the whole document (`get`);
`get/accepted` brings `state.desired`, applied only when its version is newer than the applied one;
then the device reports on `update` the version it runs, its clock (`ntp` once NTP set it since boot,
else `untrusted`) and, for a refused document, the error. The callbacks only note what to send: the
main loop sends it (`send`), as the link's callbacks never send. What stays in the heap is these
flags and the send's check; the topics, the documents and the report are schedule_doc.py's,
imported for one call (bootonly.call) when a shadow message arrives or a report is due.
"""

import bootonly


class Shadow:
    def __init__(self, topic, schedule, clock, log):
        """topic: the thing's `$aws/things/<thing>/shadow/name/schedule` (config.py builds it)."""
        self.topic = topic
        self.schedule = schedule
        self.clock = clock
        self.log = log
        self.want_get = False
        self.want_report = False
        self.error = None  # why the last newer document was refused
        self.reported = None  # (version, clock trusted, error) last reported this session

    def on_connect(self):
        self.want_get = True
        self.reported = None  # one report per session at least (the hub learns the version)

    def on_message(self, topic, payload):
        """True when topic is one of the shadow's (handled by schedule_doc.received); False: not ours."""
        heard = bootonly.call("schedule_doc", "received", topic, payload, self.schedule, self.error, self.log)
        if heard is None:
            return False
        get, report, self.error = heard
        self.want_get = self.want_get or get
        self.want_report = self.want_report or report
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
        if state != self.reported:
            message = bootonly.call("schedule_doc", "reported", *state)
            if link.send(self.topic + "/update", message, 1) < 0:
                return
            self.reported = state
        self.want_report = False

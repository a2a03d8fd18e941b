"""A stand-in for the feeder's schedule-shadow client (paho-mqtt), following docs/protocol.md "Schedule
shadow" step by step, for the hub's tests and bench/schedule.py when the firmware's own is not there:
at every connect subscribe and publish `get`; on any update/delta publish `get` again; apply the
desired document of get/accepted only if its version is above the applied one; then report
`{"state":{"reported":{"version":N,"clock":"ntp"}}}`.

    device = ShadowDevice(pki, port, thing="cat-feeder", identity="device").start()
    device.wait_applied(3)      # the versions applied, in order: device.applied; reports: device.reported_at
    device.stop()
"""

import json
import threading
import time

from cloud.hub.ingest import mqtt_client
from cloud.topology import shadow_topic


class ShadowDevice:
    def __init__(self, pki, port, thing, identity="device", client_id=None):
        self.thing, self.port = thing, port
        self.client = mqtt_client(pki, identity, client_id or thing)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.applied = []  # desired versions applied, in order
        self.reported_at = {}  # version -> time.monotonic() when its report was published
        self.desired = None
        self.changed = threading.Condition()

    def start(self):
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        return self

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def version(self):
        return self.applied[-1] if self.applied else 0

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        client.subscribe(
            [
                (shadow_topic(self.thing, suffix), 1)
                for suffix in ("get/accepted", "get/rejected", "update/delta")
            ]
        )
        client.publish(shadow_topic(self.thing, "get"), b"{}", qos=1)

    def _on_message(self, client, userdata, message):
        if message.topic.endswith("/update/delta"):
            client.publish(shadow_topic(self.thing, "get"), b"{}", qos=1)
            return
        if not message.topic.endswith("/get/accepted"):
            return
        desired = json.loads(message.payload).get("state", {}).get("desired") or {}
        version = desired.get("version", 0)
        if version <= self.version:
            return  # an older or equal version delivered late: ignored
        report = {"state": {"reported": {"version": version, "clock": "ntp"}}}
        client.publish(shadow_topic(self.thing, "update"), json.dumps(report), qos=1)
        with self.changed:
            self.desired = desired
            self.applied.append(version)
            self.reported_at[version] = time.monotonic()
            self.changed.notify_all()

    def wait_applied(self, version, timeout_s=10.0):
        with self.changed:
            if not self.changed.wait_for(lambda: self.version >= version, timeout_s):
                raise TimeoutError(
                    "version %d not applied within %.0f s (applied %s)" % (version, timeout_s, self.applied)
                )

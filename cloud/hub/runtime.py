"""The Lambda runtime of the hub: the handler modules of cloud/handlers, called in-process with the
environment the deployer would give them (from cloud/topology.py) and with their AWS clients replaced
by local ones. The handlers look their clients up at call time (`events_client()`, `iot_data_client()`,
`store()`), so they run unchanged."""

import importlib
import logging
import os

from cloud.topology import TOPOLOGY, local_environment

lambda_log = logging.getLogger("hub.lambda")


def handler_module(topology, function_key):
    return importlib.import_module("cloud.handlers." + topology["functions"][function_key]["module"])


class LocalIotData:
    """The feeder's iot-data client on the hub: publishes to mosquitto as the cloud publisher.

    Same topic, payload and QoS; waits for the PUBACK so a broker that is down fails the delivery
    (which the rule then retries). MQTT 5 properties (messageExpiry) have no 3.1.1 equivalent; the
    device enforces the command's TTL itself."""

    def __init__(self, client, timeout_s=5.0):
        self.client = client
        self.timeout_s = timeout_s

    def publish(self, topic, qos, payload, **mqtt5_properties):
        if not self.client.is_connected():
            # paho would queue it and send it on reconnect, besides the rule's own retry: one copy is enough.
            raise ConnectionError("not connected to the broker")
        info = self.client.publish(topic, payload, qos)
        info.wait_for_publish(self.timeout_s)
        if not info.is_published():
            raise ConnectionError("no PUBACK for %s within %.0f s (broker down?)" % (topic, self.timeout_s))
        return {}


class Runtime:
    """Installs the environment and the local clients; `close()` puts the modules back as they were."""

    def __init__(self, topology=TOPOLOGY, **clients):
        self.saved_env = {var: os.environ.get(var) for var in local_environment(topology)}
        os.environ.update(local_environment(topology))
        self.patched = []
        # What a handler prints goes to CloudWatch on AWS; here, to the hub's log (debug level).
        for key in topology["functions"]:
            module = handler_module(topology, key)
            self.patched.append((module, "print", None))
            module.print = lambda *args, **kwargs: lambda_log.debug(" ".join(str(arg) for arg in args))
        for name, client in clients.items():
            for key in topology["functions"]:
                module = handler_module(topology, key)
                if hasattr(module, name):
                    self.patched.append((module, name, getattr(module, name)))
                    setattr(module, name, (lambda value: lambda: value)(client))

    def close(self):
        for module, name, original in reversed(self.patched):
            if original is None:
                delattr(module, name)
            else:
                setattr(module, name, original)
        for var, value in self.saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value

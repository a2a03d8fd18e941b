"""The Lambda runtime of the hub: each function of cloud/topology.py as a callable `event -> answer`,
its handler module's `handle` with a Context built from the environment the deployer would give it
(cloud/topology.py's local_environment) and the hub's clients in place of AWS's. Nothing is patched:
two runtimes (two hubs, a hub and a test) live side by side in one process."""

import functools
import importlib
import logging

from cloud.topology import TOPOLOGY, local_environment

lambda_log = logging.getLogger("hub.lambda")


def handler_module(topology, function_key):
    return importlib.import_module("cloud.handlers." + topology["functions"][function_key]["module"])


def _log_line(line):
    # What a handler logs goes to CloudWatch on AWS; here, to the hub's log (debug level).
    lambda_log.debug(line)


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
    """The functions of a topology, with the hub's clients: `events` (button, states), `iot_data`
    (feeder), `store` (projector), each given to the handlers whose CLIENT names it. A function whose
    client is not given is not available (KeyError)."""

    def __init__(self, topology=TOPOLOGY, **clients):
        self.functions = {}
        for key in topology["functions"]:
            module = handler_module(topology, key)
            if module.CLIENT in clients:
                environ = local_environment(key, topology)
                context = module.Context(clients[module.CLIENT], environ, _log_line)
                self.functions[key] = functools.partial(module.handle, context=context)

    def __getitem__(self, function_key):
        return self.functions[function_key]

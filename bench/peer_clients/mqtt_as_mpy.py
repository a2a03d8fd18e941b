# MicroPython side of bench/peers.py: mqtt_as (Peter Hinch's asyncio MQTT client) as its users run
# it, over mutual TLS.
#   micropython mqtt_as_mpy.py <config json>    (mqtt_as and tests/board_twin/ on MICROPYPATH)
# Persistent session (clean=False after a clean first connect, as mqtt_as does it), subscribes at
# QoS 1 on every connect, then prints "rx <payload> <ticks_us>" for each message as its callback
# runs. mqtt_as reconnects by itself.
import asyncio
import json
import ssl
import sys
import time

from mqtt_as import MQTTClient, config


def der(path):
    with open(path, "rb") as f:
        return f.read()


def received(topic, message, retained):
    print("rx", bytes(message).decode(), time.ticks_us())


async def main(settings):
    subscribed = asyncio.Event()

    async def on_connect(client):
        await client.subscribe(settings["topic"], 1)
        subscribed.set()

    config.update({
        "client_id": settings["client_id"], "server": settings["host"], "port": settings["port"],
        "ssl": True, "clean": False, "clean_init": True, "keepalive": 60, "queue_len": 0,
        "subs_cb": received, "connect_coro": on_connect,
        "ssl_params": {"key": der(settings["key"]), "cert": der(settings["cert"]),
                       "cadata": der(settings["ca"]), "cert_reqs": ssl.CERT_REQUIRED,
                       "server_hostname": settings["host"]},
    })
    client = MQTTClient(config)
    await client.connect(quick=True)
    await subscribed.wait()
    print("up")
    while True:
        await asyncio.sleep(1)


with open(sys.argv[1]) as f:
    asyncio.run(main(json.load(f)))

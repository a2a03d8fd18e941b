# MicroPython side of bench/peers.py: umqtt.robust as its users run it, over mutual TLS.
#   micropython umqtt_robust_mpy.py <config json>    (.deps/peers on MICROPYPATH)
# Connects with a persistent session, subscribes at QoS 1, then prints "rx <payload> <ticks_us>"
# for each message as its callback runs. umqtt.robust reconnects by itself (DELAY s apart).
import json
import ssl
import sys
import time

from umqtt.robust import MQTTClient


def der(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    params = {"key": der(config["key"]), "cert": der(config["cert"]), "cadata": der(config["ca"]),
              "cert_reqs": ssl.CERT_REQUIRED, "server_hostname": config["host"]}
    client = MQTTClient(config["client_id"], config["host"], config["port"], keepalive=60, ssl=True,
                        ssl_params=params)

    def received(topic, message):
        print("rx", message.decode(), time.ticks_us())

    client.set_callback(received)
    client.connect(False)
    client.subscribe(config["topic"], 1)
    print("up")
    while True:
        client.wait_msg()


main()

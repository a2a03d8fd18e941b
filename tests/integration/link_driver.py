# MicroPython side of test_link.py: runs firmware/link.py against a real broker and reports events.
#   micropython link_driver.py <mqtt config json file>
# (a file, not an argument: this unix build aborts with "uncaught NLR" on arguments over ~250 bytes)
# stdout, one event per line: "ready", "up <connects>", "down", "err <exception>", "msg <topic> <payload>",
# "pub <ok> <pid>".
# stdin, one command per line: "pub <qos> <topic> <payload>", "pid <n>", "quit".
import json
import select
import sys

from hal_sim import HAL
from link import Link


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    clock = HAL(virtual=False)

    def on_message(topic, payload):
        print("msg", topic.decode(), payload.decode())

    link = Link(config, "cat-feeder", on_message, clock)
    commands = select.poll()
    commands.register(sys.stdin, select.POLLIN)
    state = [False]

    def report():
        if link.last_error is not None:
            print("err", repr(link.last_error).replace("\n", " "))
            link.last_error = None
        if link.connected != state[0]:
            state[0] = link.connected
            print("up %d" % link.connects if link.connected else "down")

    print("ready")
    while True:
        link.step(clock.ticks_ms())
        report()
        link.poll(20)
        report()
        if not commands.poll(0):
            continue
        words = sys.stdin.readline().split(" ", 3)
        if words[0].strip() == "quit":
            link.close()
            return
        if words[0] == "pid":
            link.client.pid = int(words[1])
        elif words[0] == "pub":
            ok = link.publish(words[2], words[3].strip().encode(), int(words[1]))
            report()
            print("pub %d %d" % (ok, link.client.pid))


main()

# MicroPython side of test_link.py: runs firmware/link.py (and connect.py) against a real broker.
#   micropython link_driver.py <mqtt config json file>
# (a file, not an argument: this unix build aborts with "uncaught NLR" on arguments over ~250 bytes)
# stdout, one event per line: "ready", "up <connects>", "down", "err <last_error>", "msg <topic> <payload>",
# "pub <ok> <pid>" (written), "ack <pid>" (its PUBACK arrived). The driver gives the link what the App
# gives it: the offline will and an `online` status on every connect.
# "modules <names in sys.modules>" (answers "modules").
# stdin, one command per line: "pub <qos> <topic> <payload>", "pid <n>", "modules", "quit".
import json
import select
import sys

from hal_sim import HAL
from link import Link
from reports import status_message


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    clock = HAL(virtual=False)

    def on_message(topic, payload):
        print("msg", topic.decode(), payload.decode())
        return True

    def on_connect():
        link.send(config["states_topic"], status_message("cat-feeder", "online", clock.unix_time()), 1, True)

    def on_ack(pid):
        print("ack", pid)

    will = (config["states_topic"], status_message("cat-feeder", "offline"))
    link = Link(config, "cat-feeder", on_message, clock, will=will, on_connect=on_connect, on_ack=on_ack,
                subscriptions=(config["action_topic"],))
    commands = select.poll()
    commands.register(sys.stdin, select.POLLIN)
    state = [False]

    def report():
        if link.last_error is not None:
            print("err", link.last_error)
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
        if words[0].strip() == "modules":
            print("modules", " ".join(sorted(sys.modules)))
        if words[0] == "pid":
            link.pid = int(words[1])
        elif words[0] == "pub":
            pid = link.send(words[2], words[3].strip().encode(), int(words[1]))
            report()
            print("pub %d %d" % (pid >= 0, link.pid))


main()

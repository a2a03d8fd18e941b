"""The two bowls, as the bits of a bowls mask, and the bowls each command event feeds
(docs/protocol.md): parsing (command.py, legacy.py) and the servos (servo.py) both use them."""

LEFT = 1
RIGHT = 2
EVENTS = {"SINGLE": LEFT, "DOUBLE": RIGHT, "LONG": LEFT | RIGHT}

"""Draw the feeder's wiring diagram, hardware/wiring.svg, from the connection table below.

    python hardware/wiring.py            # rewrites hardware/wiring.svg
    python hardware/wiring.py --check    # exit 1 when the committed picture is out of date

The table is the source; the picture is generated (byte-for-byte reproducible, no dependencies),
and tests/tools/test_wiring_diagram.py fails when the two disagree or when a pin here differs
from firmware/config.example.json.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, "wiring.svg")

# XIAO ESP32C3 header, top view, USB-C at the top: (label, GPIO or None) per pin, left then right column.
LEFT_PINS = [("D0", 2), ("D1", 3), ("D2", 4), ("D3", 5), ("D4", 6), ("D5", 7), ("D6", 21)]
RIGHT_PINS = [("5V", None), ("GND", None), ("3V3", None), ("D10", 10), ("D9", 9), ("D8", 8), ("D7", 20)]
STRAPPING = (2, 8, 9)

# (board pin label, part, part terminal, wire colour, note)
CONNECTIONS = [
    ("D1", "left servo", "signal", "#e08a00", "GPIO3: servos.left.pin"),
    ("D2", "right servo", "signal", "#e0c000", "GPIO4: servos.right.pin"),
    ("5V", "servos + capacitor", "V+", "#d02020", "5 V from USB-C, not the 3.3 V regulator"),
    ("GND", "servos + capacitor + button", "GND", "#202020", "common ground"),
    ("D3", "push button", "contact", "#2060d0", "GPIO5: button.pin; other side to GND"),
    ("D4", "HIL loopback", "wire to D3", "#20a040", "GPIO6: HIL only, drives D3 low as a press"),
]
BUTTON_GPIO = 5
LOOPBACK_GPIO = 6
SERVO_GPIOS = {"left": 3, "right": 4}

WIDTH, HEIGHT = 900, 600
BOARD_X, BOARD_Y, BOARD_W, PIN_STEP = 320, 90, 200, 44


def pin_position(label):
    for column, pins in ((0, LEFT_PINS), (1, RIGHT_PINS)):
        for row, (name, _) in enumerate(pins):
            if name == label:
                x = BOARD_X if column == 0 else BOARD_X + BOARD_W
                return x, BOARD_Y + 40 + row * PIN_STEP, column
    raise KeyError(label)


def text(x, y, body, size=13, anchor="start", weight="normal", fill="#111"):
    return (
        '<text x="%d" y="%d" font-family="sans-serif" font-size="%d" text-anchor="%s" '
        'font-weight="%s" fill="%s">%s</text>' % (x, y, size, anchor, weight, fill, body)
    )


def render():
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">'
        % (WIDTH, HEIGHT, WIDTH, HEIGHT),
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        text(
            WIDTH // 2, 30, "Cat feeder wiring: Seeed XIAO ESP32C3 (top view, USB-C up)", 18, "middle", "bold"
        ),
    ]
    board_h = 40 + len(LEFT_PINS) * PIN_STEP + 50
    out.append(
        '<rect x="%d" y="%d" width="%d" height="%d" rx="10" fill="#2f6f3f" stroke="#123" stroke-width="2"/>'
        % (BOARD_X, BOARD_Y, BOARD_W, board_h)
    )
    out.append(
        '<rect x="%d" y="%d" width="50" height="24" rx="4" fill="#bbb" stroke="#555"/>'
        % (BOARD_X + BOARD_W // 2 - 25, BOARD_Y - 12)
    )
    label_y = BOARD_Y + board_h - 44
    out.append(text(BOARD_X + BOARD_W // 2, label_y, "XIAO ESP32C3", 15, "middle", "bold", "#fff"))
    out.append(
        text(BOARD_X + BOARD_W // 2, label_y + 20, "BOOT button = GPIO9", 11, "middle", "normal", "#fff")
    )
    for pins, column in ((LEFT_PINS, 0), (RIGHT_PINS, 1)):
        for label, gpio in pins:
            x, y, _ = pin_position(label)
            fill = "#f0c040" if gpio in STRAPPING else "#e8e8e8"
            out.append('<circle cx="%d" cy="%d" r="7" fill="%s" stroke="#333"/>' % (x, y, fill))
            name = label if gpio is None else "%s/GPIO%d" % (label, gpio)
            inner = x + 12 if column == 0 else x - 12
            out.append(text(inner, y + 4, name, 11, "start" if column == 0 else "end", "normal", "#fff"))
    for label, part, terminal, colour, note in CONNECTIONS:
        x, y, column = pin_position(label)
        if label == "D4":  # the loopback: a short wire on the same side, D4 -> D3
            _, y3, _ = pin_position("D3")
            out.append(
                '<path d="M %d %d C %d %d, %d %d, %d %d" fill="none" stroke="%s" stroke-width="3"/>'
                % (x, y, x - 40, y, x - 40, y3, x, y3, colour)
            )
            out.append(
                text(x - 30, y + 22, "HIL loopback: D4/GPIO6 drives D3 low", 11, "end", "normal", colour)
            )
            continue
        end_x = 60 if column == 0 else WIDTH - 60
        part_y = y
        out.append(
            '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>'
            % (x, y, end_x, part_y, colour)
        )
        anchor = "start" if column == 0 else "end"
        out.append(text(end_x, part_y - 8, "%s: %s" % (part, terminal), 13, anchor, "bold"))
        out.append(text(end_x, part_y + 16, note, 11, anchor))
        if part == "push button":  # the push button sits on its wire; its other contact goes to GND
            out.append(
                '<rect x="%d" y="%d" width="24" height="16" rx="3" fill="#fff" stroke="%s" '
                'stroke-width="3"/>' % (end_x + 150, part_y - 8, colour)
            )
    legend_y = HEIGHT - 55
    out.append('<circle cx="60" cy="%d" r="7" fill="#f0c040" stroke="#333"/>' % legend_y)
    out.append(
        text(
            74,
            legend_y + 4,
            "strapping pin (GPIO2, GPIO8, GPIO9): decides the boot mode at reset; "
            "no servo, and no button held at reset",
            12,
        )
    )
    out.append(
        text(
            60,
            legend_y + 26,
            "470-1000 uF capacitor across 5V and GND, close to the servos. "
            "Pins are set in config.json; this is the default layout.",
            12,
        )
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv):
    picture = render()
    if "--check" in argv:
        with open(OUTPUT) as handle:
            if handle.read() != picture:
                print("hardware/wiring.svg is out of date: run python hardware/wiring.py", file=sys.stderr)
                return 1
        return 0
    with open(OUTPUT, "w") as handle:
        handle.write(picture)
    print("wrote %s" % OUTPUT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

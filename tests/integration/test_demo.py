"""`make demo` (python -m tools.demo) on the self-hosted hub, end to end: exactly what it shows (results,
servo writes, ledger rows, history rows, the rebuild to T, verify) and that it leaves nothing running."""

import json
import os
import re
import subprocess
import sys

from tests.integration.test_aws_rehearsal import ROOT, port_is_closed, processes_in

RESULT = re.compile(
    r"device -> cat-feeder/cat-feeder/states: seq=(\d+) id=(\S+) status=(\w+) bowls=(\[.*\])$"
)
LEDGER = re.compile(r"^  ledger\| +(\d+) (\w+) +(.*)$")


def section(out, number):
    start = out.index("== %d." % number)
    return out[start : out.index("== %d." % (number + 1), start)]


def servo_lines(text):
    return [line.split("servo| ")[1] for line in text.splitlines() if "servo| " in line]


def test_the_demo_tells_the_whole_story_on_the_hub_and_stops_everything(tmp_path):
    chart = tmp_path / "history.png"
    demo = subprocess.run(
        [sys.executable, "-m", "tools.demo", "--chart", str(chart)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = demo.stdout
    assert demo.returncode == 0, out + demo.stderr
    # A feeder nobody gave a schedule says so plainly, not as a rejected request with raw bytes.
    assert "device| schedule: none set yet" in out and "get rejected" not in out
    results = [RESULT.search(line).groups() for line in out.splitlines() if RESULT.search(line)]
    ids = {}
    for _, press_id, _, _ in results:
        ids.setdefault(press_id, len(ids))
    assert [
        (int(seq), ids[press_id], status, json.loads(bowls)) for seq, press_id, status, bowls in results
    ] == [
        (1, 0, "dispensed", ["left"]),
        (2, 1, "dispensed", ["right"]),
        (3, 2, "dispensed", ["left", "right"]),
        (4, 2, "duplicate", []),  # the LONG command redelivered by the hub after its restart
        (5, 3, "dispensed", ["left"]),  # the outage press, drained from the device's outbox
        (6, 3, "duplicate", []),  # the same command redelivered by mosquitto
    ]
    # Servo: each press moves its bowls' servos out and back (a 0 pulse detaches), the duplicates nothing.
    single = [
        "pin 3 (left) pulse 1500 us",
        "pin 3 (left) off (detached)",
        "pin 3 (left) pulse 500 us",
        "pin 3 (left) off (detached)",
    ]
    double = [line.replace("3 (left)", "4 (right)") for line in single]
    moves = [re.sub(r"^\+ *\d+ ms ", "", line) for line in servo_lines(out)]
    assert moves == single + double + single + double + ["no PWM write"] + single
    assert "ledger: 0 new event(s)" in section(out, 3)
    # The story in a household's words; the mechanism only on the indented "how:" line below a step.
    details = ("      how: ", "  device| ", "  servo| ", "  hub| ", "  ledger| ", "  verify ")
    story = [line for line in out.splitlines() if not line.startswith(details)]
    jargon = [line for line in story if re.search(r"PUBACK|cursor|seq=|\brows?\b", line)]
    assert jargon == [], jargon
    assert "T = " in section(out, 2) and "the history now shows 3 presses" in section(out, 2)
    assert [line for line in out.splitlines() if line.startswith("  the feeder answered: ")] == [
        "  the feeder answered: fed the left bowl",
        "  the feeder answered: fed the right bowl",
        "  the feeder answered: fed the left bowl and the right bowl",
        "  the feeder answered: already done, nothing fed again",
        "  the feeder answered: fed the left bowl",
        "  the feeder answered: already done, nothing fed again",
    ]
    # The ledger: presses once each, every result, statuses (their number depends on the outage).
    rows = [LEDGER.match(line).groups() for line in section(out, 8).splitlines() if LEDGER.match(line)]
    assert [int(seq) for seq, _, _ in rows] == list(range(1, len(rows) + 1))
    facts = [(kind, text.split(" press-")[0]) for _, kind, text in rows if kind != "DeviceStatus"]
    assert facts == [
        ("FeedRequested", "SINGLE"),
        ("FeedResult", "seq=1"),
        ("FeedRequested", "DOUBLE"),
        ("FeedResult", "seq=2"),
        ("FeedRequested", "LONG"),
        ("FeedResult", "seq=3"),
        ("FeedResult", "seq=4"),
        ("FeedRequested", "SINGLE"),
        ("FeedResult", "seq=5"),
        ("FeedResult", "seq=6"),
    ]
    assert rows[0][1:] == ("DeviceStatus", "status online")
    # The history: one row per press, the duplicates do not count twice.
    history = [line.split("history| ")[1] for line in section(out, 5).splitlines() if "history| " in line]
    assert [re.sub(r"^\S+ \S+ +", "", line).split()[:4] for line in history[1:5]] == [
        ["cat-feeder", "SINGLE", "left", "dispensed"],
        ["cat-feeder", "DOUBLE", "right", "dispensed"],
        ["cat-feeder", "LONG", "left+right", "dispensed"],
        ["cat-feeder", "SINGLE", "left", "dispensed"],
    ]
    assert history[5].startswith("device cat-feeder: online since")
    assert history[5].endswith("6 results, none missing")
    assert chart.read_bytes()[:4] == b"\x89PNG"
    rebuild = section(out, 6)
    assert "rebuilt to T from 7 ledger events: 3 presses; the same as the live history at T: yes" in rebuild
    assert "(the live history now shows 4 presses: the rebuild left out everything after T)" in rebuild
    assert "servo writes during the rebuild: 0; device results during the rebuild: 0" in rebuild
    tamper = section(out, 7)
    assert "verify tampered copy| verify: seq 4: hash does not match its content and predecessor" in tamper
    assert "verify live ledger| verify: %d events, hash chain intact" % len(rows) in tamper
    # verify is given the demo's own broker: its retained checkpoint is checked, not make hub's 8883 missed.
    assert "checkpoints checked" in tamper and "not reachable" not in tamper and "no public key" not in tamper
    assert "history: 4 presses: 4 dispensed" in section(out, 8)
    assert out.splitlines()[-1].startswith("demo: OK")
    broker_port = int(re.search(r"mosquitto on 127\.0\.0\.1:(\d+)", out).group(1))
    flash = re.search(r"fresh flash in (\S+)", out).group(1)
    assert port_is_closed(broker_port)
    assert processes_in(flash) == []
    hub_dir = re.search(r"hub data in (\S+)", out).group(1)
    assert not os.path.exists(hub_dir) and not os.path.exists(flash)

"""`make rehearsal` (python -m tools.aws_rehearsal), the boto3 path on moto's server, end to end: its
story and that it leaves nothing running."""

import json
import os
import re
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULT = re.compile(
    r"device -> cat-feeder/cat-feeder/states: seq=(\d+) id=(\S+) status=(\w+) bowls=(\[.*\])$"
)


def port_is_closed(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def processes_in(directory):
    """Pids of processes whose working directory is (or was, before its removal) directory."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink("/proc/%s/cwd" % pid)
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if cwd.removesuffix(" (deleted)") == directory:
            found.append(int(pid))
    return found


def test_the_rehearsal_feeds_three_bowls_absorbs_a_redelivery_refuses_a_replay_and_stops_everything():
    demo = subprocess.run(
        [sys.executable, "-m", "tools.aws_rehearsal"], cwd=ROOT, capture_output=True, text=True, timeout=90
    )
    out = demo.stdout
    assert demo.returncode == 0, out + demo.stderr
    results = [RESULT.search(line).groups() for line in out.splitlines() if RESULT.search(line)]
    seqs = [int(seq) for seq, _, _, _ in results]
    outcomes = [(status, json.loads(bowls)) for _, _, status, bowls in results]
    assert seqs == [1, 2, 3, 4]
    assert outcomes == [
        ("dispensed", ["left"]),
        ("dispensed", ["right"]),
        ("dispensed", ["left", "right"]),
        ("duplicate", []),
    ]
    # The redelivery is the SINGLE press again, and it moved no servo.
    assert results[3][1] == results[0][1]
    redelivery = out[out.index("== 4.") : out.index("== 5.")]
    assert "servo| no PWM write" in redelivery and "pulse" not in redelivery
    replay = out[out.index("== 5.") : out.index("== 6.")]
    assert "queue of rule feeds:   0 event(s)" in replay
    assert re.search(
        r'"status": "refused", "reason": "replayed event \'demo-replay-\d+\' never feeds"', replay
    )
    assert "no command reached the device, no servo moved" in replay
    assert "demo: OK" in out.splitlines()[-1]
    moto_port = int(re.search(r"moto server on http://127\.0\.0\.1:(\d+)", out).group(1))
    broker_port = int(re.search(r"mosquitto on 127\.0\.0\.1:(\d+)", out).group(1))
    flash = re.search(r"fresh flash in (\S+)", out).group(1)
    assert port_is_closed(broker_port) and port_is_closed(moto_port)
    assert not os.path.exists(flash) and processes_in(flash) == []

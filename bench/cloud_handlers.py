"""Cold import and warm invocation time of the two Lambda handlers, network stubbed.

    .venv/bin/python bench/cloud_handlers.py        (make bench runs it this way)

Cold import: `import <handler>` in a fresh interpreter (python -c, RUNS_COLD times), timed inside it,
so it excludes interpreter start-up, as Lambda's init phase does. The handlers build their Context
(boto3 client included) on first use, so "first call" adds boto3's import and client creation (stubbed
network). Warm: repeated calls of the Lambda entry point in one process with the client's network
stubbed (botocore Stubber) and the log lines dropped.
Goals: cold import < 150 ms, warm call < 2 ms.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND_LINE = ".venv/bin/python bench/cloud_handlers.py"
RUNS_COLD = 15
RUNS_WARM = 2000
ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "EVENT_BUS_NAME": "feedmyfurbabies",
    "EVENT_SOURCE": "com.feedmyfurbabies",
    "EVENT_DETAIL_TYPE": "FeedRequested",
    "ACTION_TOPIC": "cat-feeder/{thing}/action",
    "DEFAULT_FEEDER": "cat-feeder",
    "COMMAND_TTL_S": "300",
    "IOT_DATA_ENDPOINT": "https://bench-ats.iot.eu-west-1.amazonaws.com",
}
PRESS = {"v": 1, "event": "SINGLE", "at": 0, "seq": 1, "thing": "cat-feeder"}

# Runs in the fresh interpreter: time the import, then the first call (boto3 import + client) with a stub.
COLD_PROBE = """
import sys, time, json
start = time.perf_counter()
import {module} as handler
imported = time.perf_counter()
from botocore.stub import Stubber
client = getattr(handler.deployed(), {client!r})
stub = Stubber(client); stub.add_response({operation!r}, {response!r}); stub.activate()
handler.handler(json.loads(sys.argv[1]))
print(json.dumps([imported - start, time.perf_counter() - imported]))
"""

HANDLERS = {
    "button": {
        "client": "events",
        "operation": "put_events",
        "response": {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]},
    },
    "feeder": {"client": "iot_data", "operation": "publish", "response": {}},
}


def invocation_event(module):
    sys.path.insert(0, str(ROOT))
    from cloud.handlers import button

    press = dict(PRESS, at=int(time.time()))
    if module == "button":
        return press
    return {
        "source": ENV["EVENT_SOURCE"],
        "detail-type": ENV["EVENT_DETAIL_TYPE"],
        "detail": button.parse_press(press),
    }


def percentiles(samples_s):
    ordered = sorted(samples_s)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return "p50 %.3f  p90 %.3f  p99 %.3f  max %.3f ms" % (
        pick(0.5),
        pick(0.9),
        pick(0.99),
        ordered[-1] * 1000,
    )


def cold(module, spec):
    probe = COLD_PROBE.format(module=module, **spec)
    env = dict(os.environ, **ENV, PYTHONPATH=str(ROOT / "cloud" / "handlers"))
    imports, first_calls = [], []
    for _ in range(RUNS_COLD):
        output = subprocess.run(
            [sys.executable, "-c", probe, json.dumps(invocation_event(module))],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        imported_s, first_call_s = json.loads(output.splitlines()[-1])  # after the feeder's log line
        imports.append(imported_s)
        first_calls.append(first_call_s)
    return imports, first_calls


def warm(module, spec):
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT / "cloud" / "handlers"))
    from botocore.stub import Stubber

    handler = __import__(module)
    context = handler.deployed()
    context.log = lambda line: None  # the feeder's log line goes to CloudWatch on Lambda, not to this report
    client = getattr(context, spec["client"])
    event = invocation_event(module)
    samples = []
    with Stubber(client) as stub:
        for _ in range(RUNS_WARM):
            stub.add_response(spec["operation"], spec["response"])
            start = time.perf_counter()
            handler.handler(event)
            samples.append(time.perf_counter() - start)
    return samples


def main():
    print(
        "command: %s  (python %s, %d cold runs, %d warm calls)"
        % (COMMAND_LINE, sys.version.split()[0], RUNS_COLD, RUNS_WARM)
    )
    for module, spec in HANDLERS.items():
        imports, first_calls = cold(module, spec)
        warm_samples = warm(module, spec)
        print("%-7s cold import  %s  (goal < 150)" % (module, percentiles(imports)))
        print("%-7s first call   %s  (boto3 import + client)" % (module, percentiles(first_calls)))
        totals = [i + f for i, f in zip(imports, first_calls, strict=True)]
        print("%-7s cold total   %s  (import + first call)" % (module, percentiles(totals)))
        print(
            "%-7s warm call    %s  (goal < 2); mean %.3f ms"
            % (module, percentiles(warm_samples), statistics.fmean(warm_samples) * 1000)
        )


if __name__ == "__main__":
    main()

"""Link's reconnect schedule (firmware/link.py) on MicroPython with a virtual clock: full-jitter
exponential backoff, never two CONNECTs within a second, reset after a stable session."""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
BASE_MS = 2000
CAP_MS = 16000
STEP_MS = 10  # the script steps the link every 10 ms of virtual time


def test_backoff_schedule(tmp_path, device_config, run_mpy):
    config = tmp_path / "mqtt.json"
    config.write_text(json.dumps(device_config(1, backoff_base_ms=BASE_MS, backoff_cap_ms=CAP_MS)))
    proc = run_mpy(os.path.join(HERE, "link_backoff_mpy.py"), str(config))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)

    times = report["failing"]
    gaps = [times[n + 1] - times[n] for n in range(len(times) - 1)]
    ceilings = [min(CAP_MS, BASE_MS << n) for n in range(len(gaps))]
    assert all(gap >= 1000 for gap in gaps), gaps  # at most one CONNECT per second
    pairs = list(zip(gaps, ceilings, strict=True))
    assert all(gap <= max(1000, ceiling) + STEP_MS for gap, ceiling in pairs), gaps
    assert ceilings[-1] == CAP_MS  # the schedule reached the cap ...
    assert any(gap < ceiling - 100 for gap, ceiling in pairs), gaps  # ... with full jitter, not fixed steps
    assert report["failures"] == len(times)

    assert report["connected"] is True
    assert report["publish_after_stable"] is False  # a failed write drops the link
    # After 31 s connected the backoff starts again from the base.
    assert report["failures_after_stable_drop"] == 1
    assert 0 <= report["retry_after_stable_drop"] <= max(1000, BASE_MS) + STEP_MS

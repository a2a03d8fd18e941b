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
    drawn = report["drawn"][: len(gaps)]  # the backoff drawn after each failed attempt
    # Each wait is the drawn backoff, but never under 1 s since the last CONNECT: not a step
    # earlier (a link retrying early fails here), and not later than the next step.
    for gap, delay in zip(gaps, drawn, strict=True):
        assert max(1000, delay) <= gap <= max(1000, delay) + STEP_MS, (gaps, drawn)
    assert all(0 <= delay <= ceiling for delay, ceiling in zip(drawn, ceilings, strict=True)), drawn
    assert ceilings[-1] == CAP_MS  # the schedule reached the cap ...
    assert any(delay < ceiling - 100 for delay, ceiling in zip(drawn, ceilings, strict=True)), drawn  # jitter
    assert report["failures"] == len(times)

    assert report["connected"] is True
    assert report["publish_after_stable"] is False  # a failed write drops the link
    # After 31 s connected the backoff starts again from the base.
    assert report["failures_after_stable_drop"] == 1
    # ... drawn from the base ceiling again, and waited out in full (the last CONNECT was 31 s ago).
    delay = report["drawn_at_stable_drop"]
    assert delay <= BASE_MS
    assert delay <= report["retry_after_stable_drop"] <= delay + STEP_MS

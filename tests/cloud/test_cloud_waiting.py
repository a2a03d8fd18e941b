"""Bounded, logged waits (cloud/aws/waiting.py) on an injected clock: the retry logic, no real sleeping."""

import pytest
from botocore.exceptions import ClientError

from cloud.aws.waiting import Waiting, WaitTimedOut, codes


def conflict():
    return ClientError(
        {"Error": {"Code": "DeleteConflictException", "Message": "still attached"}}, "DeletePolicy"
    )


def test_until_backs_off_logs_each_wait_and_returns_the_first_success(fake_time):
    lines, answers = [], iter([None, None, None, "ready"])
    waiting = Waiting(out=lines.append, sleep=fake_time.sleep, clock=fake_time.clock)
    assert waiting.until("the thing", lambda: next(answers), timeout_s=60) == "ready"
    assert fake_time.slept == [1, 2, 4]
    assert lines[0] == "  waiting for the thing: attempt 1, next in 1 s, giving up in 60 s"
    assert lines[-1] == "  the thing: done after 4 attempts"


def test_until_gives_up_at_the_deadline_without_oversleeping(fake_time):
    waiting = Waiting(out=lambda line: None, sleep=fake_time.sleep, clock=fake_time.clock, max_delay_s=15)
    with pytest.raises(WaitTimedOut, match="the thing: still not done after 40 s"):
        waiting.until("the thing", lambda: None, timeout_s=40)
    assert fake_time.slept == [1, 2, 4, 8, 15, 10] and sum(fake_time.slept) == 40


def test_retrying_retries_only_the_named_errors(fake_time):
    calls = []

    def delete():
        calls.append(1)
        if len(calls) < 3:
            raise conflict()
        return "deleted"

    waiting = Waiting(out=lambda line: None, sleep=fake_time.sleep, clock=fake_time.clock)
    assert waiting.retrying("policy", delete, codes("DeleteConflictException"), timeout_s=300) == "deleted"
    assert len(calls) == 3 and fake_time.slept == [1, 2]

    def refused():
        raise conflict()

    with pytest.raises(ClientError):
        waiting.retrying("policy", refused, codes("ThrottlingException"), timeout_s=300)
    with pytest.raises(WaitTimedOut, match="last error: .*still attached"):
        waiting.retrying("policy", refused, codes("DeleteConflictException"), timeout_s=5)

"""Bounded, logged waits for AWS's documented delays (eventual consistency, propagation, name reuse)
where botocore has no waiter: poll with exponential backoff until a deadline, saying what is awaited.

Sleep and clock are injected, so tests prove the retry logic without waiting for real.
"""

import time

from botocore.exceptions import ClientError


class WaitTimedOut(RuntimeError):
    """The awaited condition did not hold before the deadline; nothing further was attempted."""


class Waiting:
    def __init__(
        self, out=print, sleep=time.sleep, clock=time.monotonic, first_delay_s=1.0, max_delay_s=15.0
    ):
        self.out, self.sleep, self.clock = out, sleep, clock
        self.first_delay_s, self.max_delay_s = first_delay_s, max_delay_s

    def until(self, what, check, timeout_s):
        """Return check()'s first truthy result, calling it again after growing pauses until timeout_s."""
        deadline = self.clock() + timeout_s
        delay, attempt = self.first_delay_s, 1
        while True:
            result = check()
            if result:
                if attempt > 1:
                    self.out("  %s: done after %d attempts" % (what, attempt))
                return result
            left = deadline - self.clock()
            if left <= 0:
                raise WaitTimedOut(
                    "%s: still not done after %.0f s (%d attempts)" % (what, timeout_s, attempt)
                )
            pause = min(delay, self.max_delay_s, left)
            self.out(
                "  waiting for %s: attempt %d, next in %.0f s, giving up in %.0f s"
                % (what, attempt, pause, left)
            )
            self.sleep(pause)
            delay, attempt = delay * 2, attempt + 1

    def retrying(self, what, call, retry_if, timeout_s):
        """call() again while it fails with a ClientError for which retry_if(error) holds."""

        last = []

        def attempt():
            try:
                return (call(),)
            except ClientError as error:
                if not retry_if(error):
                    raise
                last[:] = [error]
                return None

        try:
            return self.until(what, attempt, timeout_s)[0]
        except WaitTimedOut as timed_out:
            raise WaitTimedOut("%s; last error: %s" % (timed_out, last[0])) from last[0]


def codes(*names):
    """retry_if for `retrying`: the error's code is one of names."""
    return lambda error: error.response["Error"]["Code"] in names

"""The decision path: one command payload in, at most one dispense, exactly one result out.

Order (firmware/README.md explains why; docs/protocol.md states the precedence): size check ->
parse -> duplicate -> expiry -> clock skew -> busy (a dispense running) -> feeding cap ->
journal.begin (durable before any servo moves) -> dispense -> outbox.put(result) ->
journal.finish. Nothing moves on bad input, a duplicate, an expired, a busy or a capped command,
and every outcome puts exactly one result into the outbox.

A crash or power loss between begin and finish leaves the id unfinished in the journal; the next
boot reports it once as `interrupted` (restore.report_interrupted) and never retries it, because
the bowl may already have received food. A dispense that raises is reported the same way at
once, and the gates are driven back to rest.
"""

import command
import expiry
import messages
from messages import CAPPED, DISPENSED, DUPLICATE, EXPIRED, INTERRUPTED, REJECTED

R_BUSY = "busy: another dispense is in progress"
R_STORAGE = "storage: could not record the command, nothing moved"
R_INTERNAL = "device: out of memory or storage failure, nothing moved"


class Feeder:
    def __init__(self, config, journal, outbox, dispenser, clock, cap):
        self.default_ttl_s = config["commands"]["default_ttl_s"]
        self.max_ttl_s = config["commands"]["max_ttl_s"]
        self.journal = journal
        self.outbox = outbox
        self.dispenser = dispenser
        self.clock = clock
        self.cap = cap
        self._begun = False
        self._decided = None

    def handle(self, payload, scheduled_id=None, bowls=0, due=0):
        """Decide on one payload and queue its result; returns the status code. Never raises.

        With scheduled_id (payload None): a due occurrence of the schedule (schedule.py), by the same
        path as a command from the busy check on (cap, journal, servo, result with its `due`);
        returns None when the journal already holds the id (fed or cut short before: reported then)."""
        self._begun = False
        self._decided = None  # the status decided for this payload, once its result is being queued
        try:
            if scheduled_id is None:
                return self._handle(payload)
            if self.journal.seen(scheduled_id):
                return None
            return self._feed(scheduled_id, bowls, self.clock.unix_time(), due)
        except Exception:
            # Only memory or storage failing gets here (parse never raises). Before begin nothing
            # moved, so a rejection is the truth; after begin, the next boot (restore.py) reports
            # the id as interrupted if its result never reached the outbox.
            if self._decided is None and not self._begun:
                try:
                    self._result(scheduled_id, REJECTED, 0, self.clock.unix_time(), R_INTERNAL, due)
                except Exception:
                    pass  # the outbox itself is failing: no result can be queued
            return REJECTED if self._decided is None else self._decided

    def _handle(self, payload):
        now = self.clock.unix_time()
        cmd = command.parse(payload, self.default_ttl_s, self.max_ttl_s)
        if cmd.reason is not None:
            return self._result(cmd.id, REJECTED, 0, now, cmd.reason)
        # A known id is a duplicate even past its TTL: the journal knows the truth, so say it.
        if self.journal.seen(cmd.id):
            return self._result(cmd.id, DUPLICATE, 0, now, None)
        if expiry.expired(cmd.issued_at, cmd.ttl, now):
            return self._result(cmd.id, EXPIRED, 0, now, None)
        if expiry.from_future(cmd.issued_at, now):
            return self._result(cmd.id, REJECTED, 0, now, expiry.R_FUTURE)
        if expiry.forgotten(cmd.issued_at, self.journal.forgotten_through):
            return self._result(cmd.id, REJECTED, 0, now, expiry.R_FORGOTTEN)
        return self._feed(cmd.id, cmd.bowls, now, 0)

    def _feed(self, command_id, bowls, now, due):
        """busy -> cap -> journal.begin -> dispense -> result -> journal.finish. due: 0 for a command."""
        if self.dispenser.busy:
            return self._result(command_id, REJECTED, 0, now, R_BUSY, due)
        over_cap = self.cap.refusal(bowls, now)
        if over_cap is not None:
            return self._result(command_id, CAPPED, 0, now, over_cap, due)
        try:
            self.journal.begin(command_id, now, bowls)
        except OSError:
            # Without a durable record a redelivery could feed twice: refuse instead. (JournalFull
            # is one too, and cannot happen while the cap holds: journal.py.)
            return self._result(command_id, REJECTED, 0, now, R_STORAGE, due)
        status = DISPENSED
        try:
            self.dispenser.dispense(bowls)
        except Exception:
            # A servo fault mid-dispense: food may or may not have dropped, as after a crash.
            status = INTERRUPTED
            self.dispenser.park()
        # Marked only now: a payload handled re-entrantly during the dispense (refused as busy)
        # resets them, and nothing before this point can raise after begin.
        self._begun = True
        self._decided = None
        self._result(command_id, status, bowls, now, None, due)
        self.journal.finish(command_id)
        return status

    def _result(self, command_id, status, bowls, now, reason, due=0):
        self._decided = status  # set first: a failing put is not followed by a second result
        self.outbox.put(messages.pack_result(command_id, status, bowls, now, reason, due))
        return status

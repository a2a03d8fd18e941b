"""The feeder rig (feederrig.py) with the schedule: the device's own clock is the sim HAL's virtual
one, so a week passes in a second."""

import gc
import json

gc.collect()  # the test module's compile garbage, before the rig's modules settle in the 64K heap
import bootonly  # noqa: E402
from feederrig import Rig, _load, hal_sim, messages  # noqa: E402

Schedule = _load("schedule").Schedule
days_from_civil = _load("tzrule").days_from_civil

THING = "cat-feeder"
SYDNEY = "AEST-10AEDT,M10.1.0,M4.1.0/3"
NEW_YORK = "EST5EDT,M3.2.0,M11.1.0"


def utc(y, m, d, hh=0, mm=0, offset_h=0):
    """Unix seconds of a wall time at a fixed offset (hours east)."""
    return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 - offset_h * 3600


def desired(version, tz, slots, paused=False, skip=(), grace_s=1800):
    """A get/accepted document as AWS IoT sends it (desired, plus the shadow's own version)."""
    slot_list = [{"id": s[0], "at": s[1], "event": s[2], "portions": s[3], "days": s[4]} for s in slots]
    doc = {"version": version, "tz": tz, "slots": slot_list, "paused": paused, "skip": list(skip),
           "grace_s": grace_s}
    return json.dumps({"state": {"desired": doc}, "version": version + 100, "timestamp": 1}).encode()


def fed(results):
    """(id, due, at, bowls) of each dispensed result."""
    return [(r[0], r[2], r[3], r[4]) for r in results if r[1] == "dispensed"]


def bodies(*payloads):
    """The stored bodies schedule_doc.py makes of get/accepted payloads (what shadow.py hands to
    Schedule.apply), made before the rig is built: the 64K test heap cannot hold both at once.
    test_schedule_doc.py tests that part, versions included."""
    made = []
    for payload in payloads:
        _, body, error = bootonly.call("schedule_doc", "desired", payload, 0)
        assert error is None and body is not None, error
        made.append(body)
    gc.collect()
    return made


class SchedRig:
    def __init__(self, start, trusted=True):
        # 32 journal slots: two bowls at the default cap of 12 a day; results are taken out as they
        # come, so 16 queued are plenty (the 64K test heap is tight).
        hal = hal_sim.HAL(start_unix=start, clock_trusted=trusted)
        self.rig = Rig(max_entries=32, hal=hal, outbox_capacity=16)
        self.results = []
        self.pin_writes = {}  # PWM writes per (pin, duty_ns)
        self.boot(again=False)

    @property
    def hal(self):
        return self.rig.hal

    def boot(self, again=True):
        """Power on again on the same flash: what App does (interrupted reported, then the schedule).
        again=False: the journal and outbox stay as they are (the 64K test heap is short of room for
        reading them back again in some tests); only the schedule is read back."""
        self.schedule = None
        if again:
            self.rig.dispenser = None  # with the old HAL, before the new journal and outbox
            gc.collect()
            self.rig.boot()
        gc.collect()  # each step loads restore.py for one call: room for it in one piece
        self.rig.recover()
        gc.collect()
        self.schedule = Schedule(self.rig.directory, self.hal, self.rig.feeder, self.rig.outbox)
        bootonly.call("restore", "load_schedule", self.schedule)

    def apply(self, body):
        """What shadow.py does with a newer valid document (a body from bodies())."""
        self.schedule.apply(body)

    def run_until(self, end):
        """The main loop, idle but for the schedule: sleep until its next deadline, poll, until end."""
        hal = self.hal
        while hal.unix_time() < end:
            self.schedule.poll(hal.ticks_ms())
            self._drain()
            hal.sleep_ms(max(1, min(self.schedule.wait_ms(hal.ticks_ms()), (end - hal.unix_time()) * 1000)))
        self.schedule.poll(hal.ticks_ms())
        self._drain()

    def _drain(self):
        # As the cloud sees them; small tuples, so that a week of results fits the 64K test heap,
        # which would not hold a week of the sim's PWM trace either: only a count per (pin, duty).
        writes = self.hal.pwm_writes
        for write in writes:
            key = write[1:]
            self.pin_writes[key] = self.pin_writes.get(key, 0) + 1
        writes.clear()
        outbox = self.rig.outbox
        while outbox.depth:
            seq, packed = outbox.at(0)
            r = json.loads(messages.render(THING, seq, packed))
            self.results.append((r["id"], r["status"], r.get("due"), r["at"], r["bowls"], r.get("origin")))
            outbox.ack(seq)

    def take_results(self):
        """The results queued since the last call: (id, status, due, at, bowls, origin) each."""
        self._drain()
        taken = self.results
        self.results = []
        return taken

    def close(self):
        self.rig.close()


def grace_boundary(late, status):
    """A slot at 01:00 with grace_s 600, the device off from before it until `late` seconds after:
    the occurrence gets `status`, once, and the next day's is fed on time."""
    start = utc(2026, 12, 1)  # UTC0: local = UTC
    (body,) = bodies(desired(1, "UTC0", [(0, 60, "SINGLE", 1, 127)], grace_s=600))
    r = SchedRig(start)
    try:
        r.apply(body)
        r.schedule.check(start)
        r.hal.advance_s(3600 + late)  # off (no check) from before 01:00 until late seconds after
        r.boot()
        r.run_until(start + 3600 + late)
        results = r.take_results()
        assert [x[:3] for x in results] == [("sch-1-0-20261201-1", status, start + 3600)], results
        assert results[0][4] == (["left"] if status == "dispensed" else [])
        r.run_until(start + 86400 + 7200)
        assert [x[:2] for x in r.take_results()] == [("sch-1-0-20261202-1", "dispensed")]  # on time, once
    finally:
        r.close()


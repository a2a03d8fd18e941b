"""The schedule and the device's clock, on the sim's virtual clock (CPython and MicroPython): nothing
runs until NTP set it since boot, a backwards jump never re-feeds, a forward jump past grace reports
`missed` (docs/protocol.md, "Schedule shadow")."""
# mpy-heapsize: 72K (tools/test_mpy.sh): each test reboots the device with the previous boot's rig still in
# the heap; on the board a reboot starts from an empty one.

from schedrig import SchedRig, bodies, desired, hal_sim, utc

SINGLE = "SINGLE"
EVERY_DAY = 127


def test_nothing_runs_until_ntp_set_the_clock_then_due_ones_run_within_grace():
    start = utc(2026, 12, 1)
    (body,) = bodies(desired(1, "UTC0", [(0, 60, SINGLE, 1, EVERY_DAY), (1, 180, SINGLE, 1, EVERY_DAY)]))
    r = SchedRig(start)
    try:
        r.apply(body)
        r.run_until(start + 60)
        # Off for an hour; the next boot's clock is untrusted until NTP sets it.
        r.rig.hal = hal_sim.HAL(start_unix=r.hal.unix_time() + 3600, clock_trusted=False)
        r.boot()
        r.run_until(start + 4 * 3600)
        assert r.take_results() == []  # 01:00 and 03:00 passed on an untrusted clock
        r.hal.clock_synced()
        r.run_until(start + 4 * 3600 + 1)
        assert [(x[0], x[1]) for x in r.take_results()] == [
            ("sch-1-0-20261201-1", "missed"), ("sch-1-1-20261201-1", "missed")]
    finally:
        r.close()


def test_a_backwards_clock_jump_never_refeeds_and_a_forward_jump_reports_missed():
    start = utc(2026, 12, 1)
    slots = [(0, 60, SINGLE, 1, EVERY_DAY), (1, 600, SINGLE, 1, EVERY_DAY)]
    (body,) = bodies(desired(1, "UTC0", slots, grace_s=60))
    r = SchedRig(start)
    try:
        r.apply(body)
        r.run_until(start + 2 * 3600)
        assert [x[1] for x in r.take_results()] == ["dispensed"]
        r.hal.start_unix -= 2 * 3600  # the clock goes back before 01:00
        r.run_until(start + 2 * 3600)
        assert r.take_results() == []
        r.hal.start_unix += 10 * 3600  # and jumps past 10:00 by hours
        r.schedule.check(r.hal.unix_time())
        assert [(x[0], x[1]) for x in r.take_results()] == [("sch-1-1-20261201-1", "missed")]
    finally:
        r.close()

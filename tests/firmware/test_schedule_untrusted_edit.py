"""A schedule edit applied before NTP set the clock (CPython and MicroPython): the device cannot
know `now`, so flash says "no previous evaluation" and the first trusted check starts from its own
now; a slot that ran today under the old version is not fed again under the new one, across a
reboot in between (docs/protocol.md, "Schedule shadow")."""
# mpy-heapsize: 72K (tools/test_mpy.sh): each test reboots the device with the previous boot's rig still in
# the heap; on the board a reboot starts from an empty one.

from schedrig import SchedRig, bodies, desired, hal_sim, utc

SINGLE, DOUBLE = "SINGLE", "DOUBLE"
EVERY_DAY = 127



def test_an_edit_applied_on_an_untrusted_clock_starts_from_the_first_trusted_check():
    start = utc(2026, 12, 1)
    v1, v2 = bodies(desired(1, "UTC0", [(0, 60, SINGLE, 1, EVERY_DAY)]),
                    desired(2, "UTC0", [(0, 90, DOUBLE, 1, EVERY_DAY)]))
    r = SchedRig(start)
    try:
        r.apply(v1)
        r.run_until(start + 6000)  # 01:40
        assert [x[:2] for x in r.take_results()] == [("sch-1-0-20261201-1", "dispensed")]
        # A reboot at 01:41 whose clock NTP has not set yet; version 2 (the slot moved to 01:30,
        # already past) arrives meanwhile from a LAN broker.
        r.rig.hal = hal_sim.HAL(start_unix=r.hal.unix_time() + 60, clock_trusted=False)
        r.boot()
        r.apply(v2)
        r.boot(again=False)  # the schedule read back before NTP: what flash holds decides
        r.hal.clock_synced()
        r.run_until(start + 86400 + 7200)
        # Today's feeding ran as version 1: version 2 feeds from tomorrow, once.
        assert [x[:2] for x in r.take_results()] == [("sch-2-0-20261202-1", "dispensed")]
    finally:
        r.close()

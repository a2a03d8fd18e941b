"""presses.py on a button board (no feeder): gestures become queued presses with seqs that never
repeat, sent at QoS 1 and removed only on their PUBACK, kept across a reboot."""

import hal_sim
from fwtest import remove_tree, tmpdir
from pressrig import click, presses_for, run_for, sent_presses

NOW = 1795730000


def test_a_press_is_queued_and_sent_on_its_own_button_topic():
    hal, directory = hal_sim.HAL(start_unix=NOW), tmpdir()
    try:
        presses = presses_for(hal, directory)
        assert click(presses, hal, 100, then_ms=150) + click(presses, hal, 100) == ["DOUBLE"]
        ((topic, message, qos),) = sent_presses(presses)
        assert (topic, qos) == ("cat-feeder/cat-feeder/button", 1)
        assert message == {"v": 1, "event": "DOUBLE", "at": message["at"], "seq": 1}
        assert NOW <= message["at"] <= NOW + 2 and hal.pwm_writes == []
    finally:
        remove_tree(directory)


def test_a_press_leaves_the_queue_only_on_its_puback_and_survives_a_reboot():
    hal, directory = hal_sim.HAL(start_unix=NOW), tmpdir()
    try:
        presses = presses_for(hal, directory)
        assert click(presses, hal, 100) + click(presses, hal, 1200) == ["SINGLE", "LONG"]
        assert [m["seq"] for _, m, _ in sent_presses(presses)] == [1, 2]
        assert sent_presses(presses) == []  # both in flight: not sent twice
        assert presses.in_flight.acked(1) and not presses.in_flight.acked(99)
        presses.in_flight.clear()  # the link dropped before the second PUBACK
        assert [m["seq"] for _, m, _ in sent_presses(presses)] == [2]

        rebooted = presses_for(hal, directory)
        assert [m["seq"] for _, m, _ in sent_presses(rebooted)] == [2]  # still unacknowledged
        click(rebooted, hal, 100)
        assert [m["seq"] for _, m, _ in sent_presses(rebooted)] == [3]  # seqs never repeat
    finally:
        remove_tree(directory)


def test_with_no_room_for_its_result_a_press_only_queues():
    """Connected with a full outbox (the app's flow control): the cloud's command will feed later."""
    asked = []
    hal, directory = hal_sim.HAL(start_unix=NOW), tmpdir()
    try:
        feeder = type("Feeder", (), {"handle": lambda self, payload: asked.append(payload)})()
        presses = presses_for(hal, directory, feeder, room=lambda: False)
        assert click(presses, hal, 100) == ["SINGLE"] and asked == []
        assert [m["event"] for _, m, _ in sent_presses(presses)] == ["SINGLE"]
    finally:
        remove_tree(directory)


def test_edges_made_while_the_loop_is_blocked_count_at_their_own_times():
    """A dispense blocks the loop; the IRQ still records the release and the next press, so a LONG press
    begun during the dispense is a LONG, not the tail of the previous press."""
    hal, directory = hal_sim.HAL(start_unix=NOW), tmpdir()
    try:
        presses = presses_for(hal, directory)
        presses.pin.set(0)
        assert run_for(presses, hal, 1100) == ["LONG"]
        hal.sleep_ms(300)  # blocked: no service() from here...
        presses.pin.set(1)  # released
        hal.sleep_ms(300)
        presses.pin.set(0)  # ...and pressed again, held
        hal.sleep_ms(100)  # ...to here
        assert run_for(presses, hal, 1000) == ["LONG"]
    finally:
        remove_tree(directory)

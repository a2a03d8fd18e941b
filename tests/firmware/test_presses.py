"""presses.py on a button board (no feeder): gestures become queued presses with seqs that never
repeat, sent at QoS 1 and removed only on their PUBACK, kept across a reboot."""

import hal_sim
from fwtest import remove_tree, tmpdir
from pressrig import click, presses_for, sent_presses

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
        presses.queue.close()
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
        presses.queue.close()

        rebooted = presses_for(hal, directory)
        assert [m["seq"] for _, m, _ in sent_presses(rebooted)] == [2]  # still unacknowledged
        click(rebooted, hal, 100)
        assert [m["seq"] for _, m, _ in sent_presses(rebooted)] == [3]  # seqs never repeat
        rebooted.queue.close()
    finally:
        remove_tree(directory)

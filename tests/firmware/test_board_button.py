"""board_button.py on the board twin (tests/board_twin/): a pull-up input whose IRQ, on both edges,
runs as the ESP32 port runs every Pin.irq, scheduled (machine_pin.c: mp_sched_schedule)."""

import twin  # noqa: I001  (first: the twin's machine before the firmware imports it)

PIN = 5


def between_bytecodes():
    for _ in range(3):  # a scheduled handler runs at the VM's next check
        pass


def test_the_button_reads_high_when_released_and_its_irq_runs_on_both_edges():
    board_twin = twin.use((1, 26))
    from board_button import BoardButton

    edges = []
    button = BoardButton(PIN, edges.append)
    assert button.value() == 1  # the internal pull-up; pressed shorts it to GND
    board_twin.edge(PIN, 0)
    between_bytecodes()
    assert button.value() == 0 and len(edges) == 1
    board_twin.edge(PIN, 1)
    between_bytecodes()
    assert len(edges) == 2 and edges[0].id == PIN
    button.poll()  # nothing to poll: the IRQ


def test_a_button_without_a_handler_is_read_only():
    board_twin = twin.use((1, 24))
    from board_button import BoardButton

    button = BoardButton(PIN, None)
    board_twin.edge(PIN, 0)
    assert button.value() == 0

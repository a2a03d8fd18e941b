"""The button's pin on the board (hal_board.HAL.button): imported only by a board that has a button."""

import machine


class BoardButton:
    """The button's pin, with the sim button's methods: value(), and poll() (nothing to poll: the IRQ)."""

    def __init__(self, pin, on_edge):
        self._pin = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)
        if on_edge is not None:
            self._pin.irq(handler=on_edge, trigger=machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING)

    def value(self):
        return self._pin.value()

    def poll(self):
        pass

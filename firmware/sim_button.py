"""The virtual button of the unix port and the tests (hal_sim.HAL.button): imported only by a device
or test that has a button."""


class SimButton:
    """A virtual push button on a pull-up input: level 1 released, 0 pressed.

    In a test, `set(level)` changes the level and calls the edge handler, as the pin IRQ would.
    For a device in another process (tools/sim_board.py, the HIL tests) the level comes from a
    file instead: `level_path` holds "0" while the button is held, and `poll()` (called by the
    main loop whenever it wakes) turns a change into the edge handler call."""

    def __init__(self, on_edge, level_path=None):
        self._on_edge = on_edge
        self._level_path = level_path
        self._level = 1

    def value(self):
        return self._level

    def set(self, level):
        self._level = level
        if self._on_edge is not None:
            self._on_edge(self)

    def poll(self):
        if self._level_path is None:
            return  # driven by set() in-process
        try:
            with open(self._level_path) as f:
                level = 0 if f.read(1) == "0" else 1
        except OSError:
            level = 1  # no file: nobody is pressing
        if level != self._level:
            self.set(level)

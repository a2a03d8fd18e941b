"""button.py: the classifier on a virtual clock with scripted edges, sampled as the main loop does."""

import button
from button import DOUBLE, LONG, PRESSED, RELEASED, SINGLE, Classifier


def run(edges, until_ms, classifier=None, late_ms=0):
    """Drive a classifier like the main loop: a sample at every edge (the pin IRQ) and whenever
    wait_ms says one is due, `late_ms` after it. edges: [(ms, level)]. Returns [(ms, gesture)]."""
    classifier = classifier or Classifier()
    got = []
    level = RELEASED
    now = 0
    pending = list(edges)
    while now <= until_ms:
        while pending and pending[0][0] <= now:
            level = pending.pop(0)[1]
        gesture = classifier.sample(now, level)
        if gesture is not None:
            got.append((now, gesture))
        wait = classifier.wait_ms(now)
        next_edge = pending[0][0] if pending else None
        if wait < 0:
            if next_edge is None:
                break
            now = next_edge
        else:
            now = now + wait + late_ms if next_edge is None else min(now + wait + late_ms, next_edge)
    return got


def press(at, held):
    return [(at, PRESSED), (at + held, RELEASED)]


def bouncy(at, level, bounces=4, gap=2):
    """An edge that chatters: alternating levels every `gap` ms, ending at level."""
    other = RELEASED if level == PRESSED else PRESSED
    edges = []
    for i in range(bounces):
        edges.append((at + 2 * i * gap, level))
        edges.append((at + (2 * i + 1) * gap, other))
    edges.append((at + 2 * bounces * gap, level))
    return edges


def test_single_press_is_reported_once_the_double_window_is_over():
    assert run(press(100, 120), 3000) == [(100 + 120 + 401, SINGLE)]


def test_two_presses_within_the_window_are_a_double_reported_on_the_second_press():
    # Released at 220, pressed again at 500 (280 ms later): DOUBLE once that press is steady.
    edges = press(100, 120) + press(500, 100)
    assert run(edges, 3000) == [(530, DOUBLE)]


def test_a_second_press_after_the_window_is_a_second_single():
    edges = press(100, 100) + press(100 + 100 + 450, 100)
    assert run(edges, 3000) == [(601, SINGLE), (650 + 100 + 401, SINGLE)]


def test_held_press_is_long_at_the_threshold_without_waiting_for_the_release():
    assert run(press(100, 2500), 5000) == [(1100, LONG)]


def test_press_held_across_the_window_but_short_of_long_is_a_single():
    # Held 700 ms: longer than the 400 ms double window, shorter than the 1 s long threshold.
    assert run(press(100, 700), 3000) == [(100 + 700 + 401, SINGLE)]


def test_triple_press_is_a_double_then_a_single():
    edges = press(100, 80) + press(300, 80) + press(500, 80)
    assert run(edges, 3000) == [(330, DOUBLE), (580 + 401, SINGLE)]


def test_bounce_on_press_and_release_counts_as_one_press():
    edges = bouncy(100, PRESSED) + bouncy(300, RELEASED)
    # Steady from the last press bounce (116) and the last release bounce (316).
    assert run(edges, 3000) == [(316 + 401, SINGLE)]


def test_glitches_shorter_than_the_debounce_are_ignored():
    edges = [(100, PRESSED), (110, RELEASED), (500, PRESSED), (529, RELEASED)]
    assert run(edges, 3000) == []


def test_bouncy_double_press_is_one_double():
    edges = bouncy(100, PRESSED) + bouncy(200, RELEASED) + bouncy(400, PRESSED) + bouncy(480, RELEASED)
    assert run(edges, 3000) == [(416 + 30, DOUBLE)]


def test_long_press_then_a_quick_press_is_long_then_single():
    edges = press(100, 1500) + press(1700, 100)
    assert run(edges, 5000) == [(1100, LONG), (1800 + 401, SINGLE)]


def test_held_second_press_is_still_one_double():
    edges = press(100, 100) + press(300, 3000)
    assert run(edges, 6000) == [(330, DOUBLE)]


def test_a_late_sampler_still_classifies_by_the_edge_times():
    # The loop wakes 50 ms after each deadline: the gestures are the same, only reported later.
    assert run(press(100, 120) + press(500, 100), 3000, late_ms=50) == [(580, DOUBLE)]
    assert [g for _, g in run(press(100, 120), 3000, late_ms=50)] == [SINGLE]
    assert [g for _, g in run(press(100, 2500), 5000, late_ms=50)] == [LONG]


def test_a_press_seen_only_after_its_release_is_still_long():
    # Sampled only at the edges and far apart (a busy loop): the held time decides, not the samples.
    classifier = Classifier()
    assert classifier.sample(100, PRESSED) is None
    assert classifier.sample(1500, RELEASED) == LONG
    assert classifier.sample(1600, RELEASED) is None
    assert not classifier.busy


def test_window_expiring_before_a_late_seen_press_reports_the_single():
    classifier = Classifier()
    classifier.sample(0, PRESSED)
    classifier.sample(50, RELEASED)
    classifier.sample(100, RELEASED)  # released steady; window runs to 500
    assert classifier.sample(900, PRESSED) == SINGLE  # the window ran out long before this edge
    assert classifier.sample(950, PRESSED) is None  # this press starts a new gesture
    assert classifier.busy and classifier.state == button.FIRST_DOWN


def test_busy_and_wait_ms_follow_the_gesture():
    classifier = Classifier(debounce_ms=20, double_ms=300, long_ms=900)
    assert not classifier.busy and classifier.wait_ms(0) == -1
    classifier.sample(1000, PRESSED)
    assert classifier.busy and classifier.wait_ms(1005) == 15
    classifier.sample(1020, PRESSED)
    assert classifier.wait_ms(1020) == 880
    classifier.sample(1100, RELEASED)
    classifier.sample(1120, RELEASED)
    assert classifier.wait_ms(1120) == 281  # released at 1100: the window ends at 1400
    assert classifier.sample(1401, RELEASED) == SINGLE
    assert not classifier.busy and classifier.wait_ms(1401) == -1


def test_wrapping_ticks_compare_with_the_given_ticks_diff():
    period = 1 << 30  # MicroPython's ticks_ms wraps at 2**30 on the ESP32

    def ticks_diff(a, b):
        return ((a - b + period // 2) % period) - period // 2

    classifier = Classifier(ticks_diff=ticks_diff)
    start = period - 50
    classifier.sample(start, PRESSED)
    classifier.sample((start + 30) % period, PRESSED)
    assert classifier.sample((start + 1000) % period, PRESSED) == LONG


def test_sim_button_reports_each_level_change_of_its_file_once():
    import hal_sim
    from fwtest import remove_tree, tmpdir

    directory = tmpdir()
    try:
        edges = []
        path = directory + "/button.level"
        pin = hal_sim.HAL(button_path=path).button(5, lambda p: edges.append(p.value()))
        pin.poll()  # no file: released, no edge
        for level in ("0", "0", "1", "0"):
            with open(path, "w") as f:
                f.write(level)
            pin.poll()
        assert edges == [PRESSED, RELEASED, PRESSED] and pin.value() == PRESSED
    finally:
        remove_tree(directory)

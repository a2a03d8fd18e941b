"""The smallest `-X heapsize` at which something runs, found by bisection (bench/device.py,
bench/peers.py, bench/tls_handshake.py)."""


def smallest_heap_k(runs, low_k, high_k, step_k, report=None):
    """The smallest multiple of step_k in (low_k, high_k] for which runs(k) is true, assuming it
    stays true above (low_k fails, or is the floor); None when runs(high_k) is false too.
    report(k, ran) is called after each probe inside the range."""
    if not runs(high_k):
        return None
    while high_k - low_k > step_k:
        middle = (low_k + high_k) // 2 // step_k * step_k
        ran = runs(middle)
        if ran:
            high_k = middle
        else:
            low_k = middle
        if report is not None:
            report(middle, ran)
    return high_k

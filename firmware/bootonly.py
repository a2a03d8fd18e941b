"""Modules only boot needs (startup, config validation, restore, the upgrade's log migration) and
rare paths (reports: status and telemetry): imported for one call, then released, so their code
and tables do not stay in the heap for the whole run (config alone is ~5 KB of a 64K heap:
bench/module_heap.py). What stays of a released module is the names it interned, once: importing
it again interns nothing new (tests/firmware/test_reports.py).

A module imported for the first time during a call leaves sys.modules with it, even when an object
built in the call still uses its code, and a later import would then load a second copy. So the
modules of long-lived objects are imported before such a call (app.py imports servo, whose
Dispenser startup.py builds)."""

import gc
import sys


def call(module_name, function_name, *args):
    """module_name.function_name(*args). Afterwards, returned or raised, every module this call
    imported first (module_name and what it imports) leaves sys.modules and so the heap."""
    loaded_before = set(sys.modules)
    gc.collect()  # the garbage freed first, so the module's code finds room in fewer, larger pieces
    try:
        return getattr(__import__(module_name), function_name)(*args)
    finally:
        for name in [name for name in sys.modules if name not in loaded_before]:
            del sys.modules[name]
        gc.collect()

"""Run the firmware unit tests on the MicroPython interpreter.

The same test files run under pytest on CPython. A test is a module-level
function named test_*; it passes unless it raises. This runner is the only
test machinery MicroPython needs, so the tests stay plain functions with
plain asserts (see tests/firmware/fwtest.py for the few shared helpers).

Usage: micropython tests/mpy_runner.py tests/firmware/test_a.py [...]
"""

import gc
import sys


def module_name(path):
    name = path.rsplit("/", 1)[-1]
    return name[:-3] if name.endswith(".py") else name


def run_module(name):
    passed = failed = 0
    gc.collect()  # compiling a test module needs contiguous room in the 64K heap
    loaded_before = set(sys.modules)
    module = __import__(name)
    for attr in sorted(dir(module)):
        if not attr.startswith("test_"):
            continue
        test = getattr(module, attr)
        if not callable(test):
            continue
        gc.collect()
        try:
            test()
        except Exception as exc:  # a failing test must not stop the run
            failed += 1
            print("FAIL %s.%s" % (name, attr))
            sys.print_exception(exc)
        else:
            passed += 1
    # Free the test module's code, and the firmware modules it loaded, before compiling the next one.
    for loaded in [m for m in sys.modules if m not in loaded_before]:
        del sys.modules[loaded]
    return passed, failed


def main(paths):
    passed = failed = 0
    for path in paths:
        directory = path.rsplit("/", 1)[0] if "/" in path else "."
        if directory not in sys.path:
            sys.path.insert(0, directory)
        file_passed, file_failed = run_module(module_name(path))
        passed += file_passed
        failed += file_failed
    print("micropython: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)


main(sys.argv[1:])

"""Which firmware set the board runs, chosen at every boot (boot.py), and the trial of a new one:
file-level A/B with rollback (firmware/README.md, "Over-the-air updates").

Sets: the base set `make flash` writes at the flash root (never touched by an update; with its
release's manifest.txt when flashed from a release), and two update slots, `ota/a` and `ota/b`,
each a complete verified release (otaverify.py). The state is one line in `ota/state`:
`<current> <trial> <boots> <rolled back>`, each set named `-` (the base), `a` or `b`, e.g.
`a b 1 -`: running `a`, trying `b`, one trial boot begun. It is replaced whole by a rename
(`ota/state.new` first): atomic on LittleFS and POSIX, so a power cut at any step leaves the
old state or the new one, each naming only complete sets:

- staging writes into the slot the state names neither as current nor as trial (`staging_slot`);
  a cut there leaves files nothing boots;
- `schedule(root, slot)` names the verified slot the trial (boots 0);
- `select` at boot: with a trial, it counts the boot first (boots + 1, written before the set runs,
  so a set that crashes or hangs the board uses up its boots) and runs the trial with the watchdog
  started (a `main` that raises leaves MicroPython at its REPL, where only the watchdog, which a
  soft reset does not stop, resets the board); once MAX_TRIAL_BOOTS were used, it rolls back: the
  current set runs again and the state records the slot rolled back, for the app to report;
- `confirm(root)` (the app, once connected and subscribed) makes the trial the current set.

The chosen set's directory replaces the flash root ('') in sys.path, so its modules are imported
and the base set's are not; boot.py, main.py, config.json, certs/ and the data stay at the root
(a release's own main.py and boot.py are not run: the base's entry points and this selector are
the part only `make flash` changes). Any error reading the state runs the base set: always there.
"""

import os

from micropython import const

BASE = "-"
SLOTS = ("a", "b")
MAX_TRIAL_BOOTS = const(3)
# The watchdog a trial boot starts: startup.WATCHDOG_MS, which reconfigures it (the same 60 s).
TRIAL_WATCHDOG_MS = const(60000)


def _dir(root):
    return root + "/ota"


def slot_dir(root, slot):
    return "%s/ota/%s" % (root, slot)


def read_state(root):
    """[current, trial, boots, rolled back] from ota/state; the base set alone when there is none
    (or it is not a state this module wrote)."""
    try:
        with open(_dir(root) + "/state") as f:
            words = f.read().split()
        current, trial, rolled = words[0], words[1], words[3]
        boots = int(words[2])
        names = (BASE,) + SLOTS
        known = current in names and trial in names and rolled in names
        if known and boots >= 0 and (trial == BASE or trial != current):  # never a set on trial of itself
            return [current, trial, boots, rolled]
    except (OSError, ValueError, IndexError):
        pass
    return [BASE, BASE, 0, BASE]


def write_state(root, state):
    """Replace ota/state atomically (see above)."""
    try:
        os.mkdir(_dir(root))
    except OSError:
        pass  # exists
    path = _dir(root) + "/state"
    with open(path + ".new", "w") as f:
        f.write("%s %s %d %s\n" % tuple(state))
    os.rename(path + ".new", path)


def running_version(root):
    """The running set's (major, minor, patch), from its manifest's version line: what an update must
    be newer than (otaverify.check_manifest). The base set's manifest is the root's, which
    `make flash RELEASE=` writes (the working tree flashed without one: a development board). (0, 0, 0)
    when the set has none or it cannot be read whole (a flash cut short, a damaged file): never raises,
    since the boot goes on whatever this says, and such a board takes any release its key signed."""
    current = read_state(root)[0]
    if current != BASE and _complete(root, current):  # else the base set runs (select)
        return _version(slot_dir(root, current))
    return _version(root)


def _version(directory):
    try:
        with open(directory + "/manifest.txt") as f:
            for line in f:
                words = line.split()
                if len(words) == 2 and words[0] == "version":
                    parts = words[1].split(".")
                    if len(parts) == 3:
                        return (int(parts[0]), int(parts[1]), int(parts[2]))
                    break
    except (OSError, ValueError, IndexError):  # ValueError: also bytes that are not UTF-8 (CPython)
        pass
    return (0, 0, 0)


def staging_slot(root):
    """The slot an update may be written into: neither the current set nor a trial. None while a
    trial is pending (one update at a time)."""
    current, trial = read_state(root)[:2]
    if trial != BASE:
        return None
    return SLOTS[1] if current == SLOTS[0] else SLOTS[0]


def schedule(root, slot):
    """Make slot (verified: otaverify.check_files) the trial of the next boot."""
    state = read_state(root)
    state[1], state[2] = slot, 0
    write_state(root, state)


def confirm(root):
    """The running trial reached its broker: it becomes the current set. The set, or None when
    there was no trial."""
    state = read_state(root)
    if state[1] == BASE:
        return None
    write_state(root, [state[1], BASE, 0, BASE])
    return state[1]


def select(root, path, start_watchdog, log=print):
    """Choose the set for this boot (root: the flash root, "." on the board) and put its directory
    on path (sys.path) in place of '' (the working directory, which is the flash root), or first.
    start_watchdog(timeout=ms): machine.WDT on the board. Returns the set. Never raises: boot.py
    must return, or the ESP32 skips main.py (flashfs.py); on any error the base set runs."""
    try:
        chosen = _choose(root, start_watchdog, log)
    except Exception as exc:  # OSError: the count could not be written, so the trial does not run
        log("ota: running the base set (%r)" % (exc,))
        return BASE
    if chosen != BASE and not _complete(root, chosen):
        log("ota: %s has no manifest: running the base set" % chosen)
        chosen = BASE
    if chosen != BASE:
        if "" in path:
            path[path.index("")] = slot_dir(root, chosen)
        else:
            path.insert(0, slot_dir(root, chosen))
    return chosen


def _choose(root, start_watchdog, log):
    state = read_state(root)
    current, trial, boots = state[0], state[1], state[2]
    if trial == BASE:
        return current
    if boots >= MAX_TRIAL_BOOTS:
        write_state(root, [current, BASE, 0, trial])
        log("ota: %s did not connect in %d boots: back to %s" % (trial, boots, current))
        return current
    state[2] = boots + 1
    write_state(root, state)  # counted before it runs: a set that resets the board uses its boots up
    start_watchdog(timeout=TRIAL_WATCHDOG_MS)
    log("ota: trying %s, boot %d of %d" % (trial, boots + 1, MAX_TRIAL_BOOTS))
    return trial


def on_trial(root):
    """The set on trial (this boot runs it, otaboot.select having chosen it), or None."""
    trial = read_state(root)[1]
    return None if trial == BASE or not _complete(root, trial) else trial


def _complete(root, slot):
    """A scheduled slot was verified whole (otastage.finish); its manifest is the cheap sign that it
    is still there (a set removed by hand, a damaged flash) before the board imports from it."""
    try:
        os.stat(slot_dir(root, slot) + "/manifest.txt")
        return True
    except OSError:
        return False

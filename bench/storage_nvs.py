"""ESP32 NVS (esp32.NVS) as the journal's and outbox's storage: flash erases per dispensed command.

    .venv/bin/python bench/storage_nvs.py          (make bench runs it)

The chip is not on this machine, so this is a model of ESP-IDF's NVS page layout, driven by the
same command sequence as bench/storage_mpy.py (1,000 dispensed commands at the largest and the
default cap, the journal's one-day horizon, a 20-character id, a 30-byte result), on the stock
MicroPython ESP32 partition table's 24 KB nvs partition and on a bigger one.
"""

COMMANDS = 1000
HORIZON = 86400
LARGEST_CAP_STEP_S = 338
DEFAULT_CAP_STEP_S = 3600
RESULT_LEN = 30
ID_LEN = 20


class NVSModel:
    """ESP-IDF NVS: 4 KB pages of 126 32-byte entries, one active page written in order. A blob of
    n bytes is a BLOB_DATA item (1 + ceil(n / 32) entries) and a BLOB_IDX item (1 entry); an integer
    is 1 entry. Overwriting or erasing a key only marks its entries erased (no flash erase). When
    the last free page is taken, the full page with the fewest live entries has them copied to the
    active page and is erased: the one flash erase. Keys here: journal slot (blob: began_at, bowls,
    id) and its done flag (u8), outbox message by seq (blob), next_seq (u32)."""

    ENTRIES = 126

    def __init__(self, pages):
        self.live = [0] * pages  # live entries per page
        self.used = [0] * pages  # entries written per page since its erase
        self.active = 0
        self.free = list(range(1, pages))
        self.keys = {}  # key -> [(page, entries)]
        self.erased = 0

    def _write(self, entries):
        if self.used[self.active] + entries > self.ENTRIES:
            if not self.free:
                raise OSError(28, "NVS full")
            self.active = self.free.pop(0)
            if not self.free:
                self._reclaim()
        self.used[self.active] += entries
        self.live[self.active] += entries
        return self.active

    def _reclaim(self):
        candidates = [p for p in range(len(self.used)) if p != self.active and self.used[p]]
        victim = min(candidates, key=lambda p: self.live[p])
        if self.live[victim] == self.ENTRIES:
            raise OSError(28, "NVS full")
        moved = [(key, chunks) for key, chunks in self.keys.items() if any(p == victim for p, _ in chunks)]
        self.used[victim] = self.live[victim] = 0
        self.erased += 1
        self.free.append(victim)
        for key, chunks in moved:
            self.keys[key] = [(self._write(n) if p == victim else p, n) for p, n in chunks]

    def set(self, key, data_len):
        self.erase(key)
        entries = 1 if data_len <= 8 else 2 + (data_len + 31) // 32
        self.keys[key] = [(self._write(entries), entries)]

    def erase(self, key):
        for page, entries in self.keys.pop(key, ()):
            self.live[page] -= entries


def run(pages, step_s):
    """(erases per command, erases in begin per command), or None when the data does not fit."""
    nvs = NVSModel(pages)
    began = []
    hot = 0
    try:
        for i in range(COMMANDS):
            now = i * step_s
            slot = i % 256
            before = nvs.erased
            nvs.set("j%d" % slot, 5 + ID_LEN)
            hot += nvs.erased - before
            nvs.set("o%d" % i, 4 + RESULT_LEN)
            nvs.set("d%d" % slot, 1)
            nvs.erase("o%d" % i)
            nvs.set("n", 4)
            began.append(now)
            while began and began[0] < now - HORIZON:
                old = (i - len(began) + 1) % 256
                nvs.erase("j%d" % old)
                nvs.erase("d%d" % old)
                began.pop(0)
    except OSError:
        return None
    return nvs.erased / COMMANDS, hot / COMMANDS



def main():
    print("command: .venv/bin/python bench/storage_nvs.py (a model of ESP-IDF NVS, not a chip)")
    for pages, partition in ((6, "stock 24 KB nvs partition"), (16, "a 64 KB nvs partition")):
        for step_s, cadence in ((LARGEST_CAP_STEP_S, "largest cap"), (DEFAULT_CAP_STEP_S, "default cap")):
            figures = run(pages, step_s)
            if figures is None:
                print("  %s, %s: does not fit (the ids of a day need more live entries than the pages hold)"
                      % (partition, cadence))
            else:
                print("  %s, %s: %.2f erases per dispensed command, %.2f of them in begin"
                      % ((partition, cadence) + figures))


if __name__ == "__main__":
    main()

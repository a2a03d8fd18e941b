"""Rigs that both the tests and the benchmarks drive: a device on the unix port against a broker
(device.py), the hub, broker and page together (web.py), ledger events made as the hub makes them
(hubdata.py), the hub in a process of its own (hubprocess.py) and a process's counters from /proc
(proc.py)."""

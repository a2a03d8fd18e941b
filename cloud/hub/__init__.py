"""The self-hosted hub: the cloud half on one machine, for `make demo`, tests and households without AWS.

mosquitto stays the broker; this package plays what EventBridge, Lambda and the IoT topic rules do on
AWS, reading the same declaration (cloud/topology.py) and running the same handlers (cloud/handlers/):

| module | concern |
|---|---|
| `ledger.py` | append-only SQLite ledger: WAL, synchronous=FULL, triggers, hash chain, `verify` |
| `checkpoint.py` | signed checkpoints (length, head, time) in a file and retained on the broker |
| `events.py` | EventBridge envelopes, dedup keys, the handlers' local `events` client |
| `patterns.py` | EventBridge pattern matching (exact, prefix, exists, anything-but) |
| `runtime.py` | each function as a callable: its handler with a Context of the hub's clients |
| `delivery.py` | rules, targets, per-rule cursors, retries, dead letters |
| `ingest.py` | persistent QoS 1 MQTT session; acknowledged after the ledger commit |
| `replay.py` | replays with a time window and chosen rules, never `feeds` |
| `lock.py` | one hub per data folder (a flock held for the hub's life) |
| `backup.py` | `backup` (online, verified, N generations) and `restore` |
| `health.py` | the running hub's health report, retained on the broker |
| `status.py` | `status`: broker, ingest, cursors, dead letters, disk, checkpoint, backup |
| `projection.py`, `hydrate.py` | the SQLite history store; a new history rebuilt from the ledger |
| `broker.py`, `mosquitto/`, `acl.py` | its mosquitto: mutual TLS, persistence, the ACL (per role) |
| `pki.py` | the development PKI (CA, broker, device, publisher, observer, hub certificates) |
| `processes.py` | free ports and child processes ended cleanly |
| `hub.py` | the parts together; `__main__.py` the command line (`make hub`) |

Running it for years (checkpoints and what they prove, ...): cloud/hub/README.md.
"""

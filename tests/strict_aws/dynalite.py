"""dynalite (npm, pinned in package-lock.json beside this file, installed by `make setup`): a second DynamoDB
for the store tests, on a free 127.0.0.1 port, in memory.

Why a second one: it applies DynamoDB's service-side request validation, which moto skips, with
DynamoDB's own messages (empty, unused and undefined expression names and values, reserved words,
item size, also for an UpdateItem that grows an item), and tables are ACTIVE at once here
(--createTableMs 0). A request takes about a millisecond.

    server = Dynalite().start()   # .url; .reset() deletes every table; .stop()
"""

import os
import subprocess

import boto3

from cloud.hub.processes import end_process, free_port
from tools.moto_server import wait_for_http

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.join(HERE, "node_modules", "dynalite", "cli.js")
READY_TIMEOUT_S = 20.0


class Dynalite:
    def __init__(self):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None

    def start(self):
        if not os.path.exists(CLI):
            raise RuntimeError("dynalite is not installed: run `make setup` (npm ci in tests/strict_aws)")
        self.proc = subprocess.Popen(
            ["node", CLI, "--host", "127.0.0.1", "--port", str(self.port),
             "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_http(self.proc, self.url, READY_TIMEOUT_S, "dynalite")  # it answers GET / with 400
        return self

    def client(self):
        return boto3.client("dynamodb", endpoint_url=self.url, region_name="eu-west-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def reset(self):
        client = self.client()
        for table in client.list_tables()["TableNames"]:
            client.delete_table(TableName=table)

    def stop(self):
        if self.proc is not None:
            end_process(self.proc)
        self.proc = None

"""The page's incidents (issue 21, cloud/handlers/alerts.py): `GET /api/incidents`, read from the
incidents projection the `alerts` rule keeps, on either backend.

    {"open": [incident...], "resolved": [the newest RESOLVED_SHOWN], "pending": N, "dead_letters": [...]}

An incident is {id, kind, thing, state, opened_at, updated_at, resolved_at, count, summary, last,
resolution}. `pending` counts notifications not delivered yet and `dead_letters` those given up (hub:
its outbox and dead-letter table, cloud/hub/alerting.py; AWS: the messages waiting in the alerts
function's dead-letter queue, as `[{"queue": name, "messages": N}]` when there are any). The page shows
them with web/static/incidents.js, a section of the household's (web/README.md, "Extending the page").
"""

import os

from cloud.handlers import alerts
from cloud.hub import alerting
from cloud.topology import TOPOLOGY

RESOLVED_SHOWN = 10


def read(args):
    """The incidents of the backend `args` names (the page's arguments: --aws or --data-dir)."""
    if not args.aws:
        report = alerting.listing(os.path.join(args.data_dir, alerting.INCIDENTS_FILE))
        return dict(report, resolved=report["resolved"][:RESOLVED_SHOWN])
    from cloud.aws import session
    from cloud.handlers.projector import DynamoStore

    aws = session.AwsEnv.from_args(args)
    store = DynamoStore(aws.client("dynamodb"), TOPOLOGY["incidents_table"]["name"])
    opened, resolved = alerts.incidents(store.rows())
    sqs = aws.client("sqs")
    queue = TOPOLOGY["queues"]["alerts_failed"]["name"]
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    waiting = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    dead = [{"queue": queue, "messages": waiting}] if waiting else []
    return {"open": opened, "resolved": resolved[:RESOLVED_SHOWN], "pending": 0, "dead_letters": dead}

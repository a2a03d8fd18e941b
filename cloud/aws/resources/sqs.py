"""SQS queues: the dead-letter and on-failure queues and the replays queue."""


from cloud.aws import iam
from cloud.aws.resources.base import Resource, canonical
from cloud.aws.waiting import codes

# SQS refuses a queue name for 60 s after the queue with that name was deleted.
QUEUE_NAME_REUSE_TIMEOUT_S = 90


class Queue(Resource):
    kind = "sqs queue"
    service = "sqs"

    def __init__(self, env, key):
        super().__init__(env, env.topology["queues"][key]["name"])
        self.key = key

    def read_existing(self):
        url = self.env.sqs.get_queue_url(QueueName=self.name)["QueueUrl"]
        names = ["MessageRetentionPeriod", "Policy"]
        attributes = self.env.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return {
            "retention_s": int(attributes["MessageRetentionPeriod"]),
            "policy": canonical(attributes.get("Policy")),
        }

    def desired(self):
        policy = iam.queue_policy(self.env.topology, self.key, self.env.arns)
        return {
            "retention_s": self.env.topology["queues"][self.key]["retention_s"],
            "policy": canonical(policy),
        }

    def _attributes(self):
        desired = self.desired()
        attributes = {"MessageRetentionPeriod": str(desired["retention_s"])}
        if desired["policy"]:
            attributes["Policy"] = desired["policy"]
        return attributes

    def create(self):
        self.env.waiting.retrying(
            "queue name %s: SQS refuses it for 60 s after a queue of that name was deleted" % self.name,
            lambda: self.env.sqs.create_queue(QueueName=self.name, Attributes=self._attributes()),
            retry_if=codes("QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently"),
            timeout_s=QUEUE_NAME_REUSE_TIMEOUT_S,
        )

    def update(self, current):
        url = self.env.sqs.get_queue_url(QueueName=self.name)["QueueUrl"]
        self.env.sqs.set_queue_attributes(QueueUrl=url, Attributes=self._attributes())

    def delete(self):
        self.env.sqs.delete_queue(QueueUrl=self.env.sqs.get_queue_url(QueueName=self.name)["QueueUrl"])

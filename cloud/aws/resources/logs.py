"""CloudWatch Logs: each function's log group, with its retention."""


from cloud.aws import iam
from cloud.aws.resources.base import Resource
from cloud.topology import LOG_RETENTION_DAYS


class LogGroup(Resource):
    """A function's log group, created before the function so Lambda never creates one without retention."""

    kind = "log group"
    service = "logs"

    def __init__(self, env, function_key):
        self.spec = env.topology["functions"][function_key]
        super().__init__(env, iam.log_group_name(self.spec["name"]))

    def read_existing(self):
        found = self.env.logs.describe_log_groups(logGroupNamePrefix=self.name)["logGroups"]
        for group in found:
            if group["logGroupName"] == self.name:
                return {"retention_days": group.get("retentionInDays")}
        return None

    def desired(self):
        return {"retention_days": self.spec.get("log_retention_days", LOG_RETENTION_DAYS)}

    def create(self):
        self.env.logs.create_log_group(logGroupName=self.name)
        self.update(None)

    def update(self, current):
        self.env.logs.put_retention_policy(
            logGroupName=self.name, retentionInDays=self.desired()["retention_days"]
        )

    def delete(self):
        self.env.logs.delete_log_group(logGroupName=self.name)

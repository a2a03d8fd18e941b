"""SNS: the alerts topic (cloud/handlers/alerts.py publishes one message per incident opened or resolved)
and the household's subscriptions to it (its e-mail address, and optionally a phone for SMS, from the
household file's `alerts`, which cloud/household.py puts in the topology as `subscriptions`)."""

from cloud.aws.resources.base import Resource


class Topic(Resource):
    kind = "sns topic"
    service = "sns"

    def __init__(self, env):
        super().__init__(env, env.topology["alerts_topic"]["name"])
        self.arn = env.arns.sns_topic(self.name)

    def read_existing(self):
        attributes = self.env.sns.get_topic_attributes(TopicArn=self.arn)["Attributes"]
        return {"arn": attributes["TopicArn"]}

    def desired(self):
        return {"arn": self.arn}

    def create(self):
        self.env.sns.create_topic(Name=self.name)

    def delete(self):
        self.env.sns.delete_topic(TopicArn=self.arn)


class Subscription(Resource):
    """One (protocol, endpoint) on the topic. An e-mail subscription stays `PendingConfirmation` until its
    owner follows the link AWS mails; SNS removes an unconfirmed one after three days, and it cannot be
    unsubscribed meanwhile (https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html)."""

    kind = "sns subscription"
    service = "sns"

    def __init__(self, env, protocol, endpoint):
        # The label names the protocol only: an address is the household's, not the deploy log's.
        super().__init__(env, "%s:%s" % (env.topology["alerts_topic"]["name"], protocol))
        self.protocol, self.endpoint = protocol, endpoint
        self.topic_arn = env.arns.sns_topic(env.topology["alerts_topic"]["name"])

    def _found(self):
        pages = self.env.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=self.topic_arn)
        for page in pages:
            for subscription in page["Subscriptions"]:
                if (subscription["Protocol"], subscription["Endpoint"]) == (self.protocol, self.endpoint):
                    return subscription
        return None

    def read_existing(self):
        return self.desired() if self._found() else None

    def desired(self):
        return {"protocol": self.protocol, "endpoint": self.endpoint}

    def create(self):
        self.env.sns.subscribe(TopicArn=self.topic_arn, Protocol=self.protocol, Endpoint=self.endpoint)

    def delete(self):
        found = self._found()
        if found and found["SubscriptionArn"].startswith("arn:"):
            self.env.sns.unsubscribe(SubscriptionArn=found["SubscriptionArn"])

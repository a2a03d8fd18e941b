"""EventBridge: the bus, its archive (the ledger), the rules and their targets."""

from cloud.aws.resources.base import Resource, canonical


class Bus(Resource):
    kind = "event bus"
    service = "events"
    ledger = True  # the archive's source and the destination of its replays

    def read_existing(self):
        self.env.events.describe_event_bus(Name=self.name)
        return {}

    def desired(self):
        return {}

    def create(self):
        self.env.events.create_event_bus(Name=self.name)

    def delete(self):
        self.env.events.delete_event_bus(Name=self.name)


class Archive(Resource):
    kind = "event archive"
    service = "events"
    ledger = True

    def __init__(self, env):
        self.spec = env.topology["archive"]
        super().__init__(env, self.spec["name"])

    def read_existing(self):
        archive = self.env.events.describe_archive(ArchiveName=self.name)
        return {
            "EventSourceArn": archive["EventSourceArn"],
            "Description": archive.get("Description", ""),
            "EventPattern": canonical(archive.get("EventPattern")),
            "RetentionDays": archive["RetentionDays"],
        }

    def desired(self):
        return {
            "EventSourceArn": self.env.arns.bus(self.env.topology),
            "Description": self.spec["description"],
            "EventPattern": canonical(self.spec["event_pattern"]),
            "RetentionDays": self.spec["retention_days"],
        }

    def create(self):
        self.env.events.create_archive(ArchiveName=self.name, **self.desired())

    def update(self, current):
        desired = self.desired()
        del desired["EventSourceArn"]
        self.env.events.update_archive(ArchiveName=self.name, **desired)

    def delete(self):
        self.env.events.delete_archive(ArchiveName=self.name)


class Rule(Resource):
    kind = "event rule"
    service = "events"

    def __init__(self, env, spec):
        super().__init__(env, spec["name"])
        self.spec = spec
        self.bus = env.topology["bus"]["name"]

    def read_existing(self):
        rule = self.env.events.describe_rule(Name=self.name, EventBusName=self.bus)
        return {
            "EventPattern": canonical(rule.get("EventPattern")),
            "State": rule.get("State"),
            "Description": rule.get("Description", ""),
        }

    def desired(self):
        return {
            "EventPattern": canonical(self.spec["event_pattern"]),
            "State": "ENABLED",
            "Description": self.spec["description"],
        }

    def create(self):
        self.env.events.put_rule(Name=self.name, EventBusName=self.bus, **self.desired())

    def delete(self):
        self.env.events.delete_rule(Name=self.name, EventBusName=self.bus)


class Targets(Resource):
    kind = "event targets of rule"
    service = "events"

    def __init__(self, env, spec):
        super().__init__(env, spec["name"])
        self.spec = spec
        self.bus = env.topology["bus"]["name"]

    def read_existing(self):
        targets = self.env.events.list_targets_by_rule(Rule=self.name, EventBusName=self.bus)["Targets"]
        if not targets:
            return None
        keys = ("Id", "Arn", "RetryPolicy", "DeadLetterConfig")
        return {
            "targets": sorted(
                ({key: t[key] for key in keys if key in t} for t in targets), key=lambda t: t["Id"]
            )
        }

    def desired(self):
        topology, arns = self.env.topology, self.env.arns
        targets = []
        for target in self.spec["targets"]:
            arn = (
                arns.function(topology, target["function"])
                if "function" in target
                else arns.queue(topology, target["queue"])
            )
            targets.append(
                {
                    "Id": target["id"],
                    "Arn": arn,
                    "RetryPolicy": {
                        "MaximumRetryAttempts": target["retry"]["max_attempts"],
                        "MaximumEventAgeInSeconds": target["retry"]["max_event_age_s"],
                    },
                    "DeadLetterConfig": {"Arn": arns.queue(topology, target["dead_letter_queue"])},
                }
            )
        return {"targets": sorted(targets, key=lambda t: t["Id"])}

    def create(self):
        self.env.events.put_targets(Rule=self.name, EventBusName=self.bus, Targets=self.desired()["targets"])

    def update(self, current):
        wanted = {t["Id"] for t in self.desired()["targets"]}
        stale = [t["Id"] for t in current["targets"] if t["Id"] not in wanted]
        if stale:
            self.env.events.remove_targets(Rule=self.name, EventBusName=self.bus, Ids=stale)
        self.create()

    def delete(self):
        ids = [t["Id"] for t in self.read()["targets"]]
        self.env.events.remove_targets(Rule=self.name, EventBusName=self.bus, Ids=ids)


class ScheduleRule(Resource):
    """A scheduled rule (cloud/topology.py `schedules`): on the account's default bus, where EventBridge
    runs schedule expressions (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-rule-schedule.html:
    "you can only create scheduled rules using the default event bus")."""

    kind = "scheduled rule"
    service = "events"

    def __init__(self, env, spec):
        super().__init__(env, spec["name"])
        self.spec = spec

    def read_existing(self):
        rule = self.env.events.describe_rule(Name=self.name)
        return {
            "ScheduleExpression": rule.get("ScheduleExpression"),
            "State": rule.get("State"),
            "Description": rule.get("Description", ""),
        }

    def desired(self):
        return {
            "ScheduleExpression": self.spec["expression"],
            "State": "ENABLED",
            "Description": self.spec["description"],
        }

    def create(self):
        self.env.events.put_rule(Name=self.name, **self.desired())

    def delete(self):
        self.env.events.delete_rule(Name=self.name)


class ScheduleTargets(Resource):
    """The scheduled rule's one target: its function, with the constant `input` as the event."""

    kind = "targets of scheduled rule"
    service = "events"

    def __init__(self, env, spec):
        super().__init__(env, spec["name"])
        self.spec = spec

    def read_existing(self):
        targets = self.env.events.list_targets_by_rule(Rule=self.name)["Targets"]
        if not targets:
            return None
        return {"targets": [{key: t.get(key) for key in ("Id", "Arn", "Input")} for t in targets]}

    def desired(self):
        arn = self.env.arns.function(self.env.topology, self.spec["function"])
        return {
            "targets": [{"Id": self.spec["function"], "Arn": arn, "Input": canonical(self.spec["input"])}]
        }

    def create(self):
        self.env.events.put_targets(Rule=self.name, Targets=self.desired()["targets"])

    def delete(self):
        ids = [t["Id"] for t in self.read()["targets"]]
        self.env.events.remove_targets(Rule=self.name, Ids=ids)

"""Lambda: the functions (code from cloud/aws/packaging.py), their async settings and invoke permissions."""

import json

from cloud.aws import iam
from cloud.aws.packaging import code_sha256, handler_zip
from cloud.aws.resources.base import Resource

LAMBDA_RUNTIME = "python3.12"
# IAM is eventually consistent: a role created seconds ago may not be assumable by Lambda yet.
ROLE_PROPAGATION_TIMEOUT_S = 60


class Function(Resource):
    kind = "lambda function"
    service = "lambda"

    def __init__(self, env, key):
        self.spec = env.topology["functions"][key]
        super().__init__(env, self.spec["name"])
        self.package = handler_zip(self.spec["module"], self.spec.get("shared", ()))

    def read_existing(self):
        config = self.env.lambda_.get_function(FunctionName=self.name)["Configuration"]
        return {
            "code_sha256": config["CodeSha256"],
            "configuration": {
                "Runtime": config.get("Runtime"),
                "Handler": config.get("Handler"),
                "Role": config.get("Role"),
                "Description": config.get("Description", ""),
                "MemorySize": config.get("MemorySize"),
                "Timeout": config.get("Timeout"),
                "Environment": {"Variables": config.get("Environment", {}).get("Variables", {})},
            },
        }

    def desired(self):
        variables = dict(self.spec["environment"])
        for variable, ref in self.spec["environment_refs"].items():
            variables[variable] = self.env.environment_value(ref)
        return {
            "code_sha256": code_sha256(self.package),
            "configuration": {
                "Runtime": LAMBDA_RUNTIME,
                "Handler": self.spec["module"] + ".handler",
                "Role": self.env.arns.role(iam.role_name(self.spec)),
                "Description": self.spec["description"],
                "MemorySize": self.spec["memory_mb"],
                "Timeout": self.spec["timeout_s"],
                "Environment": {"Variables": variables},
            },
        }

    def create(self):
        configuration = self.desired()["configuration"]
        self.env.waiting.retrying(
            "role %s to be assumable by Lambda" % configuration["Role"],
            lambda: self.env.lambda_.create_function(
                FunctionName=self.name, Code={"ZipFile": self.package}, Publish=False, **configuration
            ),
            retry_if=lambda error: "cannot be assumed" in str(error),
            timeout_s=ROLE_PROPAGATION_TIMEOUT_S,
        )
        # A new function is Pending for a while: nothing is pointed at it before it is Active.
        self.env.lambda_.get_waiter("function_active_v2").wait(FunctionName=self.name)

    def update(self, current):
        desired = self.desired()
        waiter = self.env.lambda_.get_waiter("function_updated_v2")
        if current["configuration"] != desired["configuration"]:
            self.env.lambda_.update_function_configuration(FunctionName=self.name, **desired["configuration"])
            waiter.wait(FunctionName=self.name)
        if current["code_sha256"] != desired["code_sha256"]:
            self.env.lambda_.update_function_code(FunctionName=self.name, ZipFile=self.package)
            waiter.wait(FunctionName=self.name)

    def delete(self):
        self.env.lambda_.delete_function(FunctionName=self.name)


class FunctionAsyncConfig(Resource):
    kind = "lambda async config"
    service = "lambda"

    def __init__(self, env, key):
        self.spec = env.topology["functions"][key]
        super().__init__(env, self.spec["name"])

    def read_existing(self):
        config = self.env.lambda_.get_function_event_invoke_config(FunctionName=self.name)
        return {
            "MaximumRetryAttempts": config.get("MaximumRetryAttempts"),
            "MaximumEventAgeInSeconds": config.get("MaximumEventAgeInSeconds"),
            "DestinationConfig": {"OnFailure": config.get("DestinationConfig", {}).get("OnFailure", {})},
        }

    def desired(self):
        settings = self.spec["async"]
        return {
            "MaximumRetryAttempts": settings["max_retries"],
            "MaximumEventAgeInSeconds": settings["max_event_age_s"],
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": self.env.arns.queue(self.env.topology, settings["on_failure_queue"])
                }
            },
        }

    def create(self):
        self.env.lambda_.put_function_event_invoke_config(FunctionName=self.name, **self.desired())

    def delete(self):
        self.env.lambda_.delete_function_event_invoke_config(FunctionName=self.name)


class InvokePermission(Resource):
    """Resource-policy statement letting one service principal, from one source ARN, invoke a function."""

    kind = "lambda permission"
    service = "lambda"

    def __init__(self, env, function_key, principal, source_arn):
        self.function_name = env.topology["functions"][function_key]["name"]
        self.statement_id = "%s-%s" % (principal.split(".")[0], source_arn.rsplit("/", 1)[-1])
        super().__init__(env, "%s/%s" % (self.function_name, self.statement_id))
        self.principal, self.source_arn = principal, source_arn

    def read_existing(self):
        policy = json.loads(self.env.lambda_.get_policy(FunctionName=self.function_name)["Policy"])
        for statement in policy["Statement"]:
            if statement.get("Sid") == self.statement_id:
                return {
                    "principal": statement["Principal"].get("Service"),
                    "source_arn": statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn"),
                }
        return None

    def desired(self):
        return {"principal": self.principal, "source_arn": self.source_arn}

    def create(self):
        self.env.lambda_.add_permission(
            FunctionName=self.function_name,
            StatementId=self.statement_id,
            Action="lambda:InvokeFunction",
            Principal=self.principal,
            SourceArn=self.source_arn,
            SourceAccount=self.env.arns.account,
        )

    def update(self, current):
        self.delete()
        self.create()

    def delete(self):
        self.env.lambda_.remove_permission(FunctionName=self.function_name, StatementId=self.statement_id)

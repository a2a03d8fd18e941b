"""A stricter AWS for the cloud tests: rules AWS documents and moto skips, checked on every request.

botocore calls `initialize_client_plugin` for each client it creates while BOTOCORE_EXPERIMENTAL__PLUGINS
names this package (`PLUGIN`; tests/cloud/conftest.py sets it for every cloud test); each service module's
CHECKS run on `before-parameter-build` of their operation and raise the ClientError AWS would answer.
botocore swallows a plugin's errors, so tests/cloud/test_strict_aws.py checks that the layer is active."""

from botocore.validate import ParamValidationDecorator

from tests.strict_aws import eventbridge, iot, lambda_

PLUGIN = "strict_aws=tests.strict_aws"
SERVICES = {"events": eventbridge, "iot": iot, "lambda": lambda_}


def require_parameter_validation(client):
    """botocore's own validation against the service model must stay on (it is the default). Whether a Config
    or the AWS config file turned it off shows only in the serializer botocore chose for the client."""

    def check(**_):
        if not isinstance(client._serializer, ParamValidationDecorator):
            raise AssertionError("a test turned botocore's parameter_validation off")

    return check


def initialize_client_plugin(client):
    service = client.meta.service_model
    prefix = "before-parameter-build." + service.service_id.hyphenize()
    client.meta.events.register(prefix, require_parameter_validation(client))
    checks = SERVICES[service.service_name].CHECKS if service.service_name in SERVICES else {}
    for operation, check in checks.items():
        client.meta.events.register("%s.%s" % (prefix, operation), check)

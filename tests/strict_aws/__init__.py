"""A stricter AWS for the tests: rules AWS documents and moto skips, checked on every boto3 client.

botocore calls `initialize_client_plugin` for each client it creates, in this process and in the
processes it starts, because tests/conftest.py sets BOTOCORE_EXPERIMENTAL__PLUGINS to PLUGIN; the code
under test does not know. Each service module's checks run on `before-parameter-build` and raise the
ClientError AWS would answer. botocore swallows a plugin's errors, so tests/cloud/test_strict_aws.py and
test_strict_aws_dynamodb.py check that the layer is on."""

from botocore.exceptions import ParamValidationError
from botocore.validate import ParamValidationDecorator

from tests.strict_aws import dynamodb, eventbridge, iot, iot_data, lambda_, sns

PLUGIN = "strict_aws=tests.strict_aws"
SERVICES = {"events": eventbridge, "iot": iot, "iot-data": iot_data, "lambda": lambda_, "sns": sns}


def initialize_client_plugin(client):
    # botocore's own validation against the service model stays on in every test, whether a Config or a
    # profile's parameter_validation turned it off; only the client's serializer shows the outcome.
    if not isinstance(client._serializer, ParamValidationDecorator):
        client.meta.events.register("before-parameter-build", _validation_off)
    dynamodb.register(client)
    service = client.meta.service_model
    prefix = "before-parameter-build." + service.service_id.hyphenize()
    checks = SERVICES[service.service_name].CHECKS if service.service_name in SERVICES else {}
    for operation, check in checks.items():
        client.meta.events.register("%s.%s" % (prefix, operation), check)


def _validation_off(**_):
    raise ParamValidationError(report="parameter_validation is off; botocore's validation stays on in tests")

"""A stricter AWS for the tests: rules AWS documents and moto skips, checked on every boto3 client.

botocore loads `initialize_client_plugin` for each client it creates, in this process and in the
processes it starts, because tests/conftest.py sets BOTOCORE_EXPERIMENTAL__PLUGINS to PLUGIN; the code
under test does not know. tests/cloud/test_strict_aws_dynamodb.py checks that the layer is on."""

from botocore.exceptions import ParamValidationError
from botocore.validate import ParamValidationDecorator

from tests.strict_aws import dynamodb

PLUGIN = "strict_aws=tests.strict_aws"


def initialize_client_plugin(client):
    # botocore's own validation against the service model stays on in every test, whether a Config or a
    # profile's parameter_validation turned it off; only the client's serializer shows the outcome.
    if not isinstance(client._serializer, ParamValidationDecorator):
        client.meta.events.register("before-parameter-build", _validation_off)
    dynamodb.register(client)


def _validation_off(**_):
    raise ParamValidationError(report="parameter_validation is off; botocore's validation stays on in tests")

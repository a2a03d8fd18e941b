"""Lambda's limit on a function's environment variables, which moto does not apply."""

import json

from tests.strict_aws.errors import refuse

LIMITS_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
ENVIRONMENT_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html"
# LIMITS_DOC: "Function environment variables: 4 KB, for all environment variables associated with the
# function, in aggregate". Lambda counts the variables as the JSON map it stores them in.
MAX_ENVIRONMENT_BYTES = 4 * 1024


def environment_size(variables):
    return len(json.dumps(variables, separators=(",", ":")).encode("utf-8"))


def environment(operation):
    def check(params, **_):
        variables = params.get("Environment", {}).get("Variables", {})
        size = environment_size(variables)
        if size > MAX_ENVIRONMENT_BYTES:
            raise refuse(
                operation,
                "InvalidParameterValueException",
                "environment variables of %s take %d bytes, at most %d in aggregate"
                % (params.get("FunctionName"), size, MAX_ENVIRONMENT_BYTES),
                LIMITS_DOC,
            )

    return check


CHECKS = {
    "CreateFunction": environment("CreateFunction"),
    "UpdateFunctionConfiguration": environment("UpdateFunctionConfiguration"),
}

"""The Device Shadow service's rules on UpdateThingShadow that moto's iot-data does not apply: the request
document's shape, its nesting and the 8 KB of state, and the shadow name's characters."""

import json
import re

from tests.strict_aws.errors import refuse

ERRORS_DOC = "https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html"
SIZE_DOC = "https://docs.aws.amazon.com/iot/latest/developerguide/diagnosing-shadows.html"
API_DOC = "https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_UpdateThingShadow.html"
# SIZE_DOC: "The device's shadow supports 8 KB of data only ... Only the data for desired and reported
# state inside the state document sent to the device's shadow counts toward the limit."
MAX_STATE_BYTES = 8 * 1024
# ERRORS_DOC, 400: "JSON contains too many levels of nesting; maximum is 6"; "Invalid clientToken" (over
# 64 bytes); "Missing required node: state", "State node must be an object", "Desired node must be an
# object", "Reported node must be an object", "Invalid version".
MAX_LEVELS = 6
MAX_CLIENT_TOKEN = 64
# API_DOC: shadowName, Length 1-64, Pattern [$a-zA-Z0-9:_-]+ (botocore validates the length, not the pattern).
SHADOW_NAME = re.compile(r"[$a-zA-Z0-9:_-]{1,64}\Z")


def _levels(value):
    if isinstance(value, dict):
        return 1 + max((_levels(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return max((_levels(item) for item in value), default=0)
    return 0


def update_thing_shadow(params, **_):
    def bad(rule, doc=ERRORS_DOC, code="InvalidRequestException"):
        return refuse("UpdateThingShadow", code, rule, doc)

    if "shadowName" in params and not SHADOW_NAME.match(params["shadowName"]):
        raise bad("shadowName %r: expected [$a-zA-Z0-9:_-]+" % params["shadowName"], API_DOC)
    payload = params.get("payload")
    try:
        document = json.loads(payload)
    except (TypeError, ValueError, UnicodeDecodeError):
        raise bad("Invalid JSON") from None
    if not isinstance(document, dict) or "state" not in document:
        raise bad("Missing required node: state")
    state = document["state"]
    if not isinstance(state, dict):
        raise bad("State node must be an object")
    for node in ("desired", "reported"):
        if node in state and state[node] is not None and not isinstance(state[node], dict):
            raise bad("%s node must be an object" % node.capitalize())
        if _levels(state.get(node)) > MAX_LEVELS:
            raise bad("JSON contains too many levels of nesting; maximum is %d" % MAX_LEVELS)
    if "version" in document and (type(document["version"]) is not int or document["version"] < 0):
        raise bad("Invalid version")
    token = document.get("clientToken")
    if token is not None and (not isinstance(token, str) or len(token.encode()) > MAX_CLIENT_TOKEN):
        raise bad("Invalid clientToken")
    size = len(
        json.dumps(
            {k: state[k] for k in ("desired", "reported") if k in state}, separators=(",", ":")
        ).encode()
    )
    if size > MAX_STATE_BYTES:
        raise bad(
            "The payload exceeds the maximum size allowed (%d bytes of state, at most %d)"
            % (size, MAX_STATE_BYTES),
            SIZE_DOC,
            "RequestEntityTooLargeException",
        )


CHECKS = {"UpdateThingShadow": update_thing_shadow}

"""SNS rules AWS enforces and moto does not: a Publish subject, message attributes, and the endpoint a
Subscribe names for its protocol."""

import re

from tests.strict_aws.errors import refuse

PUBLISH_DOC = "https://docs.aws.amazon.com/sns/latest/api/API_Publish.html"
ATTRIBUTES_DOC = "https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html"
SUBSCRIBE_DOC = "https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html"
SMS_DOC = "https://docs.aws.amazon.com/sns/latest/dg/sms_publish-to-phone.html"
# PUBLISH_DOC, Subject: "must be UTF-8 text with no line breaks or control characters, and must be less
# than 100 characters long."
MAX_SUBJECT = 99
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# ATTRIBUTES_DOC: "Name ... Can be up to 256 characters long"; "Value ... can't be empty or null".
MAX_ATTRIBUTE_NAME = 256
DATA_TYPES = ("String", "String.Array", "Number", "Binary")
# SMS_DOC: phone numbers in E.164 format: a +, the country code and the number, at most 15 digits.
E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def publish(params, **_):
    subject = params.get("Subject")
    if subject is not None and (not subject or len(subject) > MAX_SUBJECT or CONTROL.search(subject)):
        raise refuse(
            "Publish",
            "InvalidParameter",
            "Subject %r: 1-%d characters, no line breaks or control characters" % (subject, MAX_SUBJECT),
            PUBLISH_DOC,
        )
    for name, attribute in params.get("MessageAttributes", {}).items():
        value = attribute.get("StringValue", attribute.get("BinaryValue"))
        if not name or len(name) > MAX_ATTRIBUTE_NAME or name.startswith(("AWS.", "Amazon.")) or ".." in name:
            raise refuse(
                "Publish", "InvalidParameterValue", "message attribute name %r" % name, ATTRIBUTES_DOC
            )
        if attribute.get("DataType", "").split(".")[0] not in ("String", "Number", "Binary") or value in (
            "",
            None,
        ):
            raise refuse(
                "Publish",
                "InvalidParameterValue",
                "message attribute %s: a type and a value" % name,
                ATTRIBUTES_DOC,
            )


def subscribe(params, **_):
    protocol, endpoint = params.get("Protocol"), params.get("Endpoint", "")
    # SUBSCRIBE_DOC, Endpoint: "For the email protocol, use an email address"; "For the sms protocol,
    # use a phone number of an SMS-enabled device".
    if protocol in ("email", "email-json") and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", endpoint):
        raise refuse("Subscribe", "InvalidParameter", "Endpoint: not an e-mail address", SUBSCRIBE_DOC)
    if protocol == "sms" and not E164.fullmatch(endpoint):
        raise refuse("Subscribe", "InvalidParameter", "Endpoint: not an E.164 phone number", SMS_DOC)


CHECKS = {"Publish": publish, "Subscribe": subscribe}

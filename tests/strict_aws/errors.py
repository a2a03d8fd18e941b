"""How the strict layer refuses a request: the ClientError AWS would answer, so the code under test reacts
as it would on AWS, with a message naming the rule and the page of AWS's documentation that states it."""

from botocore.exceptions import ClientError


def refuse(operation, code, rule, doc):
    message = "strict AWS layer: %s (%s)" % (rule, doc)
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)

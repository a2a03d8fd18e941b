"""What an AWS error means, per service and API: "not found" only where that API documents it, and
permission errors reported as such, naming the IAM action, never mistaken for an absent resource."""

from botocore.exceptions import ClientError

# (service, API) -> the error codes with which that API says "no such resource".
NOT_FOUND = {
    ("sqs", "GetQueueUrl"): {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"},
    ("iam", "GetRole"): {"NoSuchEntity"},
    ("iam", "GetRolePolicy"): {"NoSuchEntity"},
    ("iam", "DeleteRolePolicy"): {"NoSuchEntity"},
    ("lambda", "GetFunction"): {"ResourceNotFoundException"},
    ("lambda", "GetFunctionEventInvokeConfig"): {"ResourceNotFoundException"},
    ("lambda", "GetPolicy"): {"ResourceNotFoundException"},
    ("events", "DescribeEventBus"): {"ResourceNotFoundException"},
    ("dynamodb", "DescribeTable"): {"ResourceNotFoundException"},
    ("events", "DescribeArchive"): {"ResourceNotFoundException"},
    ("events", "DescribeRule"): {"ResourceNotFoundException"},
    ("events", "ListTargetsByRule"): {"ResourceNotFoundException"},
    ("iot", "DescribeThing"): {"ResourceNotFoundException"},
    ("sns", "GetTopicAttributes"): {"NotFound"},
    ("sns", "ListSubscriptionsByTopic"): {"NotFound"},
    ("iot", "GetPolicy"): {"ResourceNotFoundException"},
    ("iot", "ListThingPrincipals"): {"ResourceNotFoundException"},
    # HeadBucket has no body, so botocore names the error by its HTTP status.
    ("s3", "HeadBucket"): {"404", "NoSuchBucket"},
    # Not GetTopicRule: IoT may answer it for a missing rule with UnauthorizedException, the code of a
    # real permission error, so topic rules are looked up with ListTopicRules instead.
}
# Codes with which the services here refuse a caller that lacks the permission.
PERMISSION_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedException",
    "UnauthorizedOperation",
    "AuthorizationError",
}


class PermissionDenied(RuntimeError):
    """The credentials lack an IAM permission; `action` names it, e.g. "iot:GetTopicRule"."""

    def __init__(self, action, target, error):
        self.action = action
        super().__init__(
            "permission denied: %s on %s (%s: %s)"
            % (action, target, code(error), error.response["Error"].get("Message", ""))
        )


def code(error):
    return error.response["Error"]["Code"]


def is_not_found(error, service):
    return code(error) in NOT_FOUND.get((service, error.operation_name), ())


def absent_on_not_found(service, call):
    """call(), or None when it fails with its API's own "not found"; every other error propagates."""
    try:
        return call()
    except ClientError as error:
        if is_not_found(error, service):
            return None
        raise


def permissions_checked(service, target, call, *args, **kwargs):
    """call(*args, **kwargs) about `target` on `service`; a refused permission raises PermissionDenied."""
    try:
        return call(*args, **kwargs)
    except ClientError as error:
        if code(error) in PERMISSION_DENIED:
            raise PermissionDenied("%s:%s" % (service, error.operation_name), target, error) from error
        raise

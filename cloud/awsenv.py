"""boto3 clients for one region (and optionally one endpoint, e.g. moto's server), shared by the CLIs,
and `explain(error)`: the one line a CLI prints for an AWS failure, saying what to do."""

import argparse
import functools

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

CREDENTIALS_HINT = ("set AWS_PROFILE (or DEPLOY_ARGS=--profile NAME), or AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, or run `aws configure`")
# Codes with which AWS refuses the credentials themselves (as opposed to one permission).
BAD_CREDENTIALS = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                   "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId"}

DEFAULT_REGION = "eu-west-1"


def add_arguments(parser: argparse.ArgumentParser):
    parser.add_argument("--endpoint-url", help="send every AWS call here (moto's server in tests)")
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--profile", help="AWS credentials profile")


class AwsEnv:
    def __init__(self, region=DEFAULT_REGION, endpoint_url=None, profile=None):
        import boto3

        self.session = boto3.Session(region_name=region, profile_name=profile)
        self.region, self.endpoint_url = region, endpoint_url

    @classmethod
    def from_args(cls, args):
        return cls(region=args.region, endpoint_url=args.endpoint_url, profile=args.profile)

    def client(self, service):
        return self.session.client(service, endpoint_url=self.endpoint_url)

    @functools.cached_property
    def account(self):
        return self.client("sts").get_caller_identity()["Account"]

    @functools.cached_property
    def partition(self):
        return self.session.get_partition_for_region(self.region)


def explain(error):
    """One actionable line for a botocore failure (BotoCoreError or ClientError)."""
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials: " + CREDENTIALS_HINT
    if isinstance(error, ProfileNotFound):
        return "%s: name a profile from ~/.aws/config, or %s" % (error, CREDENTIALS_HINT)
    if isinstance(error, NoRegionError):
        return "no AWS region: pass DEPLOY_ARGS=--region eu-west-1"
    if isinstance(error, EndpointConnectionError):
        return "cannot reach AWS (%s): check the network, the region and any --endpoint-url" % error
    if isinstance(error, ClientError):
        code = error.response["Error"].get("Code", "")
        message = error.response["Error"].get("Message", "")
        if code in BAD_CREDENTIALS:
            return "AWS refused the credentials (%s: %s): renew them, or %s" % (
                code, message, CREDENTIALS_HINT)
        return "AWS refused %s (%s: %s)" % (error.operation_name, code, message)
    if isinstance(error, BotoCoreError):
        return "AWS: %s" % error
    raise TypeError(error)

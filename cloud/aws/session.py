"""boto3 clients for one region (and optionally one endpoint, e.g. moto's server), shared by the CLIs,
and `explain(error)`: the one line a CLI prints for an AWS failure, saying what to do (`report` prints it).

`AwsEnv.from_args` checks that boto3 finds credentials before anything starts, so every command that needs
them (deploy, plan, destroy, replay, hydrate, history --aws, web --aws, press, schedule and ota VIA=aws)
says so in the same one line instead of failing at its first call (or, for the page, at every refresh).
"""

import argparse
import functools
import sys

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

# %s: the make variable that carries the command's arguments (DEPLOY_ARGS, HISTORY_ARGS, WEB_ARGS).
CREDENTIALS_HINT = ("set AWS_PROFILE (or %s=--profile NAME), or AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, or run `aws configure`")
AWS_FAILURES = (BotoCoreError, ClientError)
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
        """The environment a command's arguments name; NoCredentialsError (or ProfileNotFound) now when boto3
        finds no credentials for it."""
        env = cls(region=args.region, endpoint_url=args.endpoint_url, profile=args.profile)
        if env.session.get_credentials() is None:
            raise NoCredentialsError()
        return env

    def client(self, service):
        return self.session.client(service, endpoint_url=self.endpoint_url)

    @functools.cached_property
    def account(self):
        return self.client("sts").get_caller_identity()["Account"]

    @functools.cached_property
    def partition(self):
        return self.session.get_partition_for_region(self.region)


def report(prog, error, make_args="DEPLOY_ARGS"):
    """A command's one line on stderr for an AWS failure; its exit status (1)."""
    print("%s: %s" % (prog, explain(error, make_args)), file=sys.stderr)
    return 1


def explain(error, make_args="DEPLOY_ARGS"):
    """One actionable line for a botocore failure (BotoCoreError or ClientError); make_args is the make
    variable that passes --profile to the command."""
    hint = CREDENTIALS_HINT % make_args
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials: " + hint
    if isinstance(error, ProfileNotFound):
        return "%s: name a profile from ~/.aws/config, or %s" % (error, hint)
    if isinstance(error, NoRegionError):
        return "no AWS region: pass DEPLOY_ARGS=--region eu-west-1"
    if isinstance(error, EndpointConnectionError):
        return "cannot reach AWS (%s): check the network, the region and any --endpoint-url" % error
    if isinstance(error, ClientError):
        code = error.response["Error"].get("Code", "")
        message = error.response["Error"].get("Message", "")
        if code in BAD_CREDENTIALS:
            return "AWS refused the credentials (%s: %s): renew them, or %s" % (code, message, hint)
        return "AWS refused %s (%s: %s)" % (error.operation_name, code, message)
    if isinstance(error, BotoCoreError):
        return "AWS: %s" % error
    raise TypeError(error)

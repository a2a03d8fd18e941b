"""boto3 clients for one region (and optionally one endpoint, e.g. moto's server), shared by the CLIs."""

import argparse
import functools

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

"""The S3 bucket of the firmware releases (`make ota VIA=aws`, cloud/aws/ota.py): private, every public
access blocked, its objects deleted with it (a release can be built and uploaded again; the ledger keeps
which firmware was offered when)."""

from botocore.exceptions import ClientError

from cloud.aws.resources.base import Resource

# https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutPublicAccessBlock.html
BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
             "RestrictPublicBuckets": True}


class Bucket(Resource):
    kind = "s3 bucket"
    service = "s3"

    def __init__(self, env):
        super().__init__(env, env.releases_bucket)

    def read_existing(self):
        self.env.s3.head_bucket(Bucket=self.name)
        try:
            block = self.env.s3.get_public_access_block(Bucket=self.name)["PublicAccessBlockConfiguration"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchPublicAccessBlockConfiguration":
                raise
            block = {}
        return {"public_access_block": dict(block)}

    def desired(self):
        return {"public_access_block": dict(BLOCK_ALL)}

    def create(self):
        options = {}
        if self.env.aws.region != "us-east-1":  # us-east-1 refuses its own name as a location constraint
            options["CreateBucketConfiguration"] = {"LocationConstraint": self.env.aws.region}
        self.env.s3.create_bucket(Bucket=self.name, **options)
        self.update(None)

    def update(self, current):
        self.env.s3.put_public_access_block(Bucket=self.name, PublicAccessBlockConfiguration=BLOCK_ALL)

    def delete(self):
        pages = self.env.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
            if keys:
                self.env.s3.delete_objects(Bucket=self.name, Delete={"Objects": keys, "Quiet": True})
        self.env.s3.delete_bucket(Bucket=self.name)

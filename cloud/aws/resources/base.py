"""What every reconciler shares: the Resource interface and the canonical form of JSON documents."""

import json

from cloud.aws import iam
from cloud.aws.errors import absent_on_not_found


def canonical(document):
    """Policy documents and event patterns come back as JSON strings or dicts; compare canonical forms."""
    if document is None:
        return None
    return iam.dumps(json.loads(document) if isinstance(document, str) else document)


class Resource:
    kind = "resource"
    service = ""  # the AWS service (and IAM action prefix) of every call the resource makes
    ledger = False  # part of the immutable history: destroy keeps it unless told otherwise

    def __init__(self, env, name):
        self.env, self.name = env, name

    @property
    def label(self):
        return "%s %s" % (self.kind, self.name)

    def read(self):
        return absent_on_not_found(self.service, self.read_existing)

    def read_existing(self):
        raise NotImplementedError

    def desired(self):
        raise NotImplementedError

    def create(self):
        raise NotImplementedError

    def update(self, current):
        self.create()

    def delete(self):
        raise NotImplementedError

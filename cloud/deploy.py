"""Deployer of the cloud half: `python -m cloud.deploy plan|apply|destroy [--endpoint-url URL] [--region R]`.

Reads cloud/topology.py and reconciles AWS with it (cloud/resources.py): `plan` prints what `apply`
would change, `apply` creates or updates only what differs (a second apply changes nothing and says
so), `destroy` removes everything the topology names. Device credentials go to --out (git-ignored).
"""

import argparse
import functools
import os
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from cloud import awsenv
from cloud.iam import Arns
from cloud.resources import declared_resources
from cloud.topology import TOPOLOGY

DEFAULT_OUT = Path(__file__).resolve().parent / ".out"


class DeployEnv:
    """Shared by all resources: the topology, clients and ARNs of one account and region, an output folder."""

    def __init__(self, aws, out_dir=DEFAULT_OUT, topology=TOPOLOGY):
        self.aws, self.out_dir, self.topology = aws, Path(out_dir), topology

    @functools.cached_property
    def sqs(self):
        return self.aws.client("sqs")

    @functools.cached_property
    def iam(self):
        return self.aws.client("iam")

    @functools.cached_property
    def lambda_(self):
        return self.aws.client("lambda")

    @functools.cached_property
    def events(self):
        return self.aws.client("events")

    @functools.cached_property
    def iot(self):
        return self.aws.client("iot")

    @functools.cached_property
    def arns(self):
        return Arns(self.aws.partition, self.aws.region, self.aws.account)


def changes(env):
    """[(action, resource, changed keys)] with action create, update or unchanged, in dependency order."""
    found = []
    for resource in declared_resources(env):
        current, desired = resource.read(), resource.desired()
        if current is None:
            found.append(("create", resource, []))
        elif current != desired:
            found.append(("update", resource, sorted(k for k in desired if current.get(k) != desired[k])))
        else:
            found.append(("unchanged", resource, []))
    return found


def describe(action, resource, keys):
    return "%-9s %s%s" % (action, resource.label, " (%s)" % ", ".join(keys) if keys else "")


def plan(env, out=print):
    found = changes(env)
    pending = [change for change in found if change[0] != "unchanged"]
    for change in pending:
        out(describe(*change))
    out(
        "Plan: %d to create, %d to update, %d unchanged."
        % (
            sum(c[0] == "create" for c in found),
            sum(c[0] == "update" for c in found),
            len(found) - len(pending),
        )
        if pending
        else "Nothing to change: %d resources up to date." % len(found)
    )
    return pending


def apply(env, out=print):
    found = changes(env)
    applied = 0
    for action, resource, keys in found:
        if action == "create":
            resource.create()
        elif action == "update":
            resource.update(resource.read())
        else:
            continue
        applied += 1
        out(describe(action, resource, keys))
    out(
        "Applied %d changes." % applied
        if applied
        else "Nothing changed: %d resources up to date." % len(found)
    )
    return applied


def destroy(env, out=print):
    removed = 0
    for resource in reversed(declared_resources(env)):
        if resource.read() is not None:
            resource.delete()
            removed += 1
            out("deleted   " + resource.label)
    out("Destroyed %d resources." % removed if removed else "Nothing to destroy.")
    return removed


def next_steps(env, out=print):
    """After apply: the thing, where its credentials are, and the command that provisions the board."""
    thing = env.topology["thing"]["name"]
    folder = env.out_dir / thing
    shown = os.path.relpath(folder) if str(folder).startswith(os.getcwd()) else str(folder)
    if (folder / "device.json").exists():
        out("Thing %s: certificate, key and endpoint in %s/ (device.crt.pem, device.key.pem, device.json)."
            % (thing, shown))
        out("Next: make flash PORT=/dev/ttyACM0 CERTS=%s" % shown)
    else:
        # The private key exists only in the response that created the certificate.
        out("Thing %s: its certificate was created elsewhere and its key is not in %s/; to issue a new one "
            "here: make destroy, then make deploy." % (thing, shown))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cloud.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("plan", "apply", "destroy"))
    parser.add_argument(
        "--out", default=DEFAULT_OUT, type=Path, help="folder for device credentials (git-ignored)"
    )
    awsenv.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        env = DeployEnv(awsenv.AwsEnv.from_args(args), out_dir=args.out)
        env.aws.check_credentials()
        {"plan": plan, "apply": apply, "destroy": destroy}[args.command](env)
        if args.command == "apply":
            next_steps(env)
    except (BotoCoreError, ClientError) as error:
        print("deploy: %s" % awsenv.explain(error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Deployer of the cloud half on AWS:
`python -m cloud.aws.deploy plan|apply|destroy [--endpoint-url URL] [--region R]`.

Reads cloud/topology.py and reconciles AWS with it (cloud/aws/resources/): `plan` prints what `apply`
would change, `apply` creates or updates only what differs (a second apply changes nothing and says
so), `destroy` removes everything the topology names except the ledger (the bus and its archive), which
needs `--delete-ledger` and a typed confirmation (or `--yes`), and names the hydrated history tables it
leaves (cloud/aws/hydrate.py removes those). Device credentials go to --out (git-ignored).
"""

import argparse
import functools
import os
import sys
from pathlib import Path

from cloud import household
from cloud.aws import hydrate, session
from cloud.aws.errors import PermissionDenied, permissions_checked
from cloud.aws.iam import Arns
from cloud.aws.resources import declared_resources
from cloud.aws.waiting import Waiting
from cloud.topology import TOPOLOGY

DEFAULT_OUT = Path(__file__).resolve().parent.parent / ".out"


class DeployEnv:
    """Shared by all resources: the topology, clients and ARNs of one account and region, an output folder."""

    def __init__(self, aws, out_dir=DEFAULT_OUT, topology=TOPOLOGY, waiting=None):
        self.aws, self.out_dir, self.topology = aws, Path(out_dir), topology
        # Bounded waits for AWS's propagation delays; tests inject a clock and a sleep that cost nothing.
        self.waiting = waiting or Waiting()

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
    def dynamodb(self):
        return self.aws.client("dynamodb")

    @functools.cached_property
    def sns(self):
        return self.aws.client("sns")

    @functools.cached_property
    def logs(self):
        return self.aws.client("logs")

    @functools.cached_property
    def iot(self):
        return self.aws.client("iot")

    @functools.cached_property
    def iot_data_endpoint(self):
        """The account's `iot:Data-ATS` endpoint address: the device connects to it, the feeder publishes."""
        return permissions_checked(
            "iot",
            "the account's iot:Data-ATS endpoint",
            self.iot.describe_endpoint,
            endpointType="iot:Data-ATS",
        )["endpointAddress"]

    def environment_value(self, ref):
        """A function's environment_refs entry: a deploy-time value, or the name of a topology entry."""
        if ref == "iot_data_endpoint":
            return "https://" + self.iot_data_endpoint
        if ref == "alerts_topic":
            return self.arns.sns_topic(self.topology[ref]["name"])
        return self.topology[ref]["name"]

    @functools.cached_property
    def arns(self):
        return Arns(self.aws.partition, self.aws.region, self.aws.account)

    def check_credentials(self):
        """The account (STS) behind the ARNs: missing or refused credentials fail here, before any change."""
        return self.arns


def checked(resource, call, *args):
    """call(*args) for resource; a refused permission becomes PermissionDenied naming the action."""
    return permissions_checked(resource.service, resource.label, call, *args)


def changes(env):
    """[(action, resource, changed keys)] with action create, update or unchanged, in dependency order."""
    found = []
    for resource in declared_resources(env):
        current, desired = checked(resource, resource.read), checked(resource, resource.desired)
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
            checked(resource, resource.create)
        elif action == "update":
            checked(resource, resource.update, checked(resource, resource.read))
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


def destroy(env, out=print, delete_ledger=False):
    """Delete what the topology names, last created first; the ledger (bus and archive) only if asked."""
    removed, kept = 0, []
    for resource in reversed(declared_resources(env)):
        if checked(resource, resource.read) is None:
            continue
        if resource.ledger and not delete_ledger:
            kept.append(resource.label)
            continue
        checked(resource, resource.delete)
        removed += 1
        out("deleted   " + resource.label)
    out("Destroyed %d resources." % removed if removed else "Nothing to destroy.")
    if kept:
        out(
            "Kept the ledger: %s, with every archived press. `destroy --delete-ledger` deletes it."
            % " and ".join(reversed(kept))
        )
    hydrated = hydrate.hydrated_tables(env.dynamodb, env.topology)
    if hydrated:
        out(
            "Kept hydrated history tables: %s (`make hydrate LIST=1` lists them, `make hydrate REMOVE=NAME`"
            " deletes one)." % ", ".join(hydrated)
        )
    return removed


def ledger_deletion_confirmed(topology, ask=input, out=print):
    """The archive is the only copy of every press: deleting it needs its name typed back."""
    name = topology["archive"]["name"]
    out("--delete-ledger deletes archive %s and every press in it, for good." % name)
    try:
        answer = ask("Type the archive's name to confirm: ")
    except EOFError:
        answer = ""
    return answer.strip() == name


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
    parser = argparse.ArgumentParser(prog="python -m cloud.aws.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("plan", "apply", "destroy"))
    parser.add_argument(
        "--out", default=DEFAULT_OUT, type=Path, help="folder for device credentials (git-ignored)"
    )
    parser.add_argument(
        "--delete-ledger",
        action="store_true",
        help="destroy also deletes the event bus and its archive, the ledger of every press (asks first)",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask before --delete-ledger (scripts)")
    parser.add_argument("--household", default=household.PATH, help="the household file (cloud/household.py)")
    session.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.delete_ledger and args.command != "destroy":
        parser.error("--delete-ledger goes with destroy")
    if args.delete_ledger and not args.yes and not ledger_deletion_confirmed(TOPOLOGY):
        print("Not confirmed: nothing deleted.", file=sys.stderr)
        return 1
    steps = {
        "plan": plan,
        "apply": apply,
        "destroy": functools.partial(destroy, delete_ledger=args.delete_ledger),
    }
    try:  # the household's routing in the feeder's environment (cloud/household.py)
        topology = household.topology(household.load(args.household))
    except household.HouseholdError as error:
        print("deploy: %s" % error, file=sys.stderr)
        return 2
    try:
        env = DeployEnv(session.AwsEnv.from_args(args), out_dir=args.out, topology=topology)
        env.check_credentials()
        steps[args.command](env)
        if args.command == "apply":
            next_steps(env)
    except PermissionDenied as denied:
        print(denied, file=sys.stderr)
        return 1
    except session.AWS_FAILURES as error:
        return session.report("deploy", error)
    return 0


if __name__ == "__main__":
    sys.exit(main())

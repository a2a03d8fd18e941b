"""Deployer of the cloud half on AWS:
`python -m cloud.aws.deploy plan|apply|destroy [--endpoint-url URL] [--region R]`.

Reads cloud/topology.py with the household file's things (cloud/household.py) and reconciles AWS with it
(cloud/aws/resources/): `plan` prints what `apply` would change, `apply` creates or updates only what
differs (a second apply changes nothing and says so) and removes the things an earlier deploy created that
the household file no longer names, which revokes their certificates, so only when confirmed (CONFIRM=remove
in the environment, or `remove` typed at the prompt of an interactive run; otherwise one line and nothing
changed). `destroy` removes everything the topology names and those things, except the ledger (the bus and
its archive), which needs `--delete-ledger` and a typed confirmation (or `--yes`), and names the hydrated
history tables it leaves (cloud/aws/hydrate.py removes those). Device credentials go to --out/<thing>/
(git-ignored).
"""

import argparse
import collections
import functools
import os
import sys
from pathlib import Path

from cloud import household
from cloud.aws import hydrate, session
from cloud.aws.credentials import DeviceFolder
from cloud.aws.errors import PermissionDenied, permissions_checked
from cloud.aws.iam import Arns
from cloud.aws.resources import declared_resources, removed_resources
from cloud.aws.resources.iot import ThingNotManaged
from cloud.aws.waiting import Waiting
from cloud.topology import THING, TOPOLOGY

DEFAULT_OUT = Path(__file__).resolve().parent.parent / ".out"
CONFIRM_REMOVAL = "remove"


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
    def s3(self):
        return self.aws.client("s3")

    @functools.cached_property
    def releases_bucket(self):
        """The releases bucket's name: the topology's, made unique across S3 by the account and region
        (bucket names are global; no dots, so the bucket's TLS name is S3's wildcard)."""
        return "%s-%s-%s" % (self.topology["releases_bucket"]["name"], self.arns.account, self.arns.region)

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
    """[(action, resource, details)] with action create, update or unchanged, in dependency order, then a
    `remove` for each thing an earlier deploy created that the household no longer names."""
    found = []
    for resource in declared_resources(env):
        current, desired = checked(resource, resource.read), checked(resource, resource.desired)
        if current is None:
            found.append(("create", resource, []))
        elif current != desired:
            found.append(("update", resource, sorted(k for k in desired if current.get(k) != desired[k])))
        else:
            found.append(("unchanged", resource, []))
    removed = permissions_checked("iot", "the things this deployer created", removed_resources, env)
    found += [("remove", resource, ["revokes its certificate"]) for resource in removed]
    return found


def describe(action, resource, details):
    return "%-9s %s%s" % (action, resource.label, " (%s)" % ", ".join(details) if details else "")


def plan(env, out=print):
    found = changes(env)
    pending = [change for change in found if change[0] != "unchanged"]
    for change in pending:
        out(describe(*change))
    counts = collections.Counter(change[0] for change in found)
    counted = ["%d to create" % counts["create"], "%d to update" % counts["update"]]
    if counts["remove"]:
        counted.append("%d to remove" % counts["remove"])
    out(
        "Plan: %s, %d unchanged." % (", ".join(counted), counts["unchanged"])
        if pending
        else "Nothing to change: %d resources up to date." % len(found)
    )
    return pending


class NotConfirmed(Exception):
    """Removals asked for and not confirmed: one line, nothing was changed."""


def refuse_removals(_removals):
    return False


def apply(env, out=print, confirm=refuse_removals):
    """Create and update what differs, then remove the things the household dropped if confirm(those
    resources) says so; otherwise NotConfirmed before anything changes."""
    found = changes(env)
    removals = [resource for action, resource, _ in found if action == "remove"]
    if removals and not confirm(removals):
        raise NotConfirmed(
            "deploy: removing %s revokes %s: confirm with CONFIRM=%s (or type it when asked); nothing changed"
            % (", ".join(r.label for r in removals), _certificates(removals)[0], CONFIRM_REMOVAL)
        )
    applied = 0
    for action, resource, details in found:
        if action == "create":
            checked(resource, resource.create)
        elif action == "update":
            checked(resource, resource.update, checked(resource, resource.read))
        elif action == "remove":
            checked(resource, resource.delete)
        else:
            continue
        applied += 1
        out(describe(action, resource, details))
    out(
        "Applied %d changes." % applied
        if applied
        else "Nothing changed: %d resources up to date." % len(found)
    )
    return applied


def _certificates(removals):
    return ("its certificate", "it") if len(removals) == 1 else ("their certificates", "them")


def removal_confirmed(removals, environ=os.environ, interactive=None, ask=input, out=print):
    """CONFIRM=remove in the environment, or `remove` typed at the prompt when stdin is a terminal."""
    if environ.get("CONFIRM") == CONFIRM_REMOVAL:
        return True
    if not (sys.stdin.isatty() if interactive is None else interactive):
        return False
    out(
        "The household file no longer names %s: deploy revokes and deletes %s, and no board can connect "
        "with %s again." % (", ".join(r.label for r in removals), *_certificates(removals))
    )
    try:
        answer = ask("Type %s to confirm: " % CONFIRM_REMOVAL)
    except EOFError:
        answer = ""
    return answer.strip() == CONFIRM_REMOVAL


def destroy(env, out=print, delete_ledger=False):
    """Delete what the topology names and the things an earlier household had; the ledger (bus and
    archive) only if asked."""
    removed, kept = 0, []
    # The things of an earlier household first, then the topology's own, last created first. All are read
    # before anything is deleted: a household thing that is someone else's stops destroy untouched.
    stale = permissions_checked("iot", "the things this deployer created", removed_resources, env)
    ordered = stale + list(reversed(declared_resources(env)))
    present = [resource for resource in ordered if checked(resource, resource.read) is not None]
    for resource in present:
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
    """After apply: each thing, where its credentials are, and the command that provisions its board."""
    things = [thing["name"] for thing in env.topology["things"]]
    shown = os.path.relpath(env.out_dir) if str(env.out_dir).startswith(os.getcwd()) else str(env.out_dir)
    for thing in things:
        folder = "%s/%s" % (shown, thing)
        if DeviceFolder(env.out_dir, thing).certificate_id():
            out("Thing %s: certificate, key and endpoint in %s/ (device.crt.pem, device.key.pem, "
                "device.json)." % (thing, folder))
        else:
            # The private key exists only in the response that created the certificate.
            out("Thing %s: its certificate was created elsewhere and its key is not in %s/; to issue a new "
                "one here: make destroy, then make deploy." % (thing, folder))
    if len(things) == 1:
        # THING= makes make flash write the household file's role and caps; the lone default needs none.
        named = "" if things[0] == THING else " THING=" + things[0]
        out("Next: make flash PORT=/dev/ttyACM0 CERTS=%s/%s%s" % (shown, things[0], named))
    else:
        out("Next, for each board: make flash PORT=/dev/ttyACM0 THING=<thing> CERTS=%s/<thing>" % shown)


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
        "apply": functools.partial(apply, confirm=removal_confirmed),
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
    except (PermissionDenied, NotConfirmed) as refused:
        print(refused, file=sys.stderr)
        return 1
    except ThingNotManaged as foreign:
        print("deploy: %s" % foreign, file=sys.stderr)
        return 1
    except session.AWS_FAILURES as error:
        return session.report("deploy", error)
    return 0


if __name__ == "__main__":
    sys.exit(main())

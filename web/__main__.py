"""`make web` (python -m web): the household page, served by uvicorn.

    python -m web [--bind 127.0.0.1] [--port 8080] [--data-dir .hub] [--pki .pki] [--broker-port 8883]
                  [--household household.json]
    python -m web --aws [--region R] [--profile P] [--endpoint-url URL] [--table NAME]
    FEEDER_WEB_TOKEN=... python -m web --lan --bind 0.0.0.0      # or --token-file FILE

Binds 127.0.0.1 unless told otherwise; any other address needs --lan and a token of at least 12
characters, or it refuses to start (exit 2), as it does, in one line, with --aws and no AWS credentials
(cloud/aws/session.py) or on a port another program holds. Presses are limited by --press-limit COUNT/SECONDS.
"""

import argparse
import logging
import os
import sys
import time

from cloud import household
from cloud.aws import session
from cloud.hub.pki import DEFAULT_DIR as DEFAULT_PKI_DIR
from cloud.ports import PortInUse, bound_socket
from cloud.press import HUB_PORT
from cloud.topology import TOPOLOGY
from web.backend import AWS_POLL_S, REFRESH_S, Backend, BackendError
from web.security import Guard, RateLimit, StartRefused, check_exposure, parse_limit

TOKEN_ENV = "FEEDER_WEB_TOKEN"
DEFAULT_LIMIT = "5/10"


def read_token(args):
    if args.token_file:
        try:
            with open(args.token_file) as f:
                return f.read().strip()
        except OSError as failure:
            raise StartRefused("--token-file %s: %s" % (args.token_file, failure.strerror)) from None
    return os.environ.get(TOKEN_ENV) or None


def parser():
    p = argparse.ArgumentParser(prog="python -m web", description=__doc__.splitlines()[0])
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--lan", action="store_true", help="serve beyond this machine (needs a token)")
    p.add_argument("--token-file", help="file holding the LAN token (else $%s)" % TOKEN_ENV)
    p.add_argument("--press-limit", default=DEFAULT_LIMIT, help="at most COUNT presses per SECONDS")
    p.add_argument("--household", default=household.PATH,
                   help="the household file: the page shows each of its feeders (default: none, one feeder)")
    p.add_argument("--data-dir", default=".hub", help="the hub's data folder (its projection and ledger)")
    p.add_argument("--pki", default=DEFAULT_PKI_DIR, help="development PKI (the hub's publisher certificate)")
    p.add_argument("--broker-port", type=int, default=HUB_PORT,
                   help="the hub's broker on 127.0.0.1 (make hub's --port, default %(default)s)")
    p.add_argument("--aws", action="store_true", help="the deployed AWS stack instead of the hub")
    p.add_argument("--table", default=TOPOLOGY["table"]["name"])
    p.add_argument("--refresh-s", type=float, default=REFRESH_S,
                   help="push the page's state at least this often, for its clocks (default %(default)s)")
    session.add_arguments(p)
    return p


def main(argv=None):
    import uvicorn

    from web.app import create_app

    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s.%(msecs)03d %(message)s", datefmt="%H:%M:%S")
    logging.Formatter.converter = time.gmtime
    try:
        token = read_token(args)
        check_exposure(args.bind, args.lan, token)
        limit = RateLimit(*parse_limit(args.press_limit))
        # Bound before anything is opened, and handed to uvicorn: a taken port is this one line.
        sock = bound_socket(args.bind, args.port)
    except PortInUse as taken:
        return refuse("%s (another make web?): stop it, or pass WEB_ARGS=\"--port N\"" % taken)
    except (StartRefused, ValueError) as refused:
        return refuse(refused)
    try:
        backend = Backend(args)
    except BackendError as refused:
        sock.close()
        return refuse(refused)
    except session.AWS_FAILURES as error:
        sock.close()
        return refuse(session.explain(error, "WEB_ARGS"))
    app = create_app(backend, Guard(token if args.lan else None), limit,
                     poll_s=AWS_POLL_S if args.aws else 0.02, refresh_s=args.refresh_s)
    backend_name = "AWS" if args.aws else "hub " + args.data_dir
    # 0.0.0.0 is no address a phone can open: say which one to type.
    host = "<this machine's address>" if args.bind in ("0.0.0.0", "::") else args.bind
    logging.info("web: http://%s:%d/ (%s)", host, args.port, backend_name)
    server = uvicorn.Server(uvicorn.Config(app, host=args.bind, port=args.port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    try:
        server.run(sockets=[sock])
    finally:
        backend.close()
        sock.close()
    return 0


def refuse(reason):
    print("web: refused to start: %s" % reason, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""A TCP port is taken or free, said in one line before a server starts (the hub's mosquitto, the page).

Both bind with SO_REUSEADDR, as mosquitto and uvicorn do, so a port whose last connections are only in
TIME_WAIT counts as free, and one another program listens on as taken.
"""

import errno
import socket


class PortInUse(Exception):
    """The message names the address; the caller adds what to do."""


def bound_socket(host, port):
    """A TCP socket bound to host:port (not yet listening), or PortInUse."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUse("port %d on %s is in use by another program" % (port, host)) from None
        raise
    return sock


def check_free(host, port):
    """PortInUse unless a server could bind host:port now."""
    bound_socket(host, port).close()

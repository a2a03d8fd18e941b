"""Import-only stand-in for ssl, for bench/module_heap.py on a MicroPython build without mbedTLS
(a 32-bit build of the unix port from source, whose mbedTLS submodule is not at hand): it is last
on the module path, so it is used only where no real ssl exists. It connects nothing."""

PROTOCOL_TLS_CLIENT = 0
CERT_REQUIRED = 2


class SSLContext:
    def __init__(self, protocol):
        self.protocol = protocol

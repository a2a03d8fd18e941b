"""moto's server on a free 127.0.0.1 port: the AWS stand-in for the cloud tests and the local demo.

    server = MotoServer().start()   # .url; .reset() empties every backend; .stop()

Only fake credentials ever reach it (see `fake_credentials`).
"""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from cloud.hub.processes import STOP_TIMEOUT_S, end_process, free_port

MOTO_SERVER = os.path.join(os.path.dirname(sys.executable), "moto_server")
READY_TIMEOUT_S = 20.0


def wait_for_http(proc, url, timeout_s, name):
    """Return once url answers over HTTP, with any status; end proc and raise RuntimeError if it exits or
    does not answer within timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                end_process(proc)
                raise RuntimeError("%s did not start on %s" % (name, url)) from None
            time.sleep(0.1)



def fake_credentials(url, region):
    """The environment that points every boto3 client at url with credentials valid only there."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": url,
    }


class MotoServer:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_http(self.proc, self.url + "/moto-api/", READY_TIMEOUT_S, "moto_server")
        return self

    def reset(self):
        request = urllib.request.Request(self.url + "/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=STOP_TIMEOUT_S).close()

    def stop(self):
        if self.proc is not None:
            end_process(self.proc)
        self.proc = None

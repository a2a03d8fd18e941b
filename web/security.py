"""The page's guards: signed session cookies, CSRF tokens bound to the session, the LAN token and the
press rate limit. Stateless apart from a per-process secret: a restart signs everyone out.

A session cookie is `<random>.<flag>.<mac>`, flag 1 once the LAN token was given (always 1 on
127.0.0.1, where no token is asked). The CSRF token of a session is a MAC of its random part, put in
the page and sent back in the X-CSRF-Token header (or the login form's field) of every POST.
"""

import collections
import hashlib
import hmac
import ipaddress
import secrets
import threading

COOKIE = "feeder_session"
CSRF_HEADER = "x-csrf-token"
MIN_TOKEN_CHARS = 12


class StartRefused(Exception):
    """The server would be less safe than asked for; the message says what to do."""


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(bind, lan, token):
    """127.0.0.1 needs nothing; --lan needs a token of MIN_TOKEN_CHARS or more (on any address, so a
    page behind a reverse proxy on this machine can ask for one too); any other address needs --lan."""
    if lan and (not token or len(token) < MIN_TOKEN_CHARS):
        raise StartRefused("--lan needs a token of at least %d characters: set FEEDER_WEB_TOKEN or pass "
                           "--token-file FILE" % MIN_TOKEN_CHARS)
    if not lan and not is_loopback(bind):
        raise StartRefused("--bind %s serves the page beyond this machine: add --lan (and a token) to mean it"
                           % bind)


class Guard:
    def __init__(self, token=None):
        self.token = token
        self.secret = secrets.token_bytes(32)

    def _mac(self, text):
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def new_cookie(self, signed_in=False):
        nonce = secrets.token_urlsafe(18)
        flag = "1" if signed_in or self.token is None else "0"
        return "%s.%s.%s" % (nonce, flag, self._mac("session|%s|%s" % (nonce, flag)))

    def session(self, cookie):
        """(nonce, signed_in) for a cookie this process signed, else None."""
        parts = (cookie or "").split(".")
        if len(parts) != 3:
            return None
        nonce, flag, mac = parts
        if flag not in ("0", "1") or not hmac.compare_digest(mac, self._mac("session|%s|%s" % (nonce, flag))):
            return None
        return nonce, flag == "1"

    def csrf_token(self, cookie):
        nonce, _ = self.session(cookie)
        return self._mac("csrf|" + nonce)

    def csrf_ok(self, cookie, presented):
        return self.session(cookie) is not None and hmac.compare_digest(
            self.csrf_token(cookie), presented or ""
        )

    def token_ok(self, presented):
        return self.token is not None and hmac.compare_digest(self.token.encode(), (presented or "").encode())


class RateLimit:
    """At most `count` presses in any `seconds` (one feeder: one budget for every client)."""

    def __init__(self, count, seconds):
        self.count, self.seconds = count, seconds
        self.times = collections.deque()
        self.lock = threading.Lock()

    def take(self, now):
        """0 when a press may go now (and it is counted), else the seconds to wait."""
        with self.lock:
            while self.times and now - self.times[0] >= self.seconds:
                self.times.popleft()
            if len(self.times) >= self.count:
                return self.seconds - (now - self.times[0])
            self.times.append(now)
            return 0


def parse_limit(text):
    """"COUNT/SECONDS" -> (count, seconds), e.g. "5/10"."""
    try:
        count, seconds = text.split("/")
        count, seconds = int(count), float(seconds)
    except ValueError:
        raise ValueError("expected COUNT/SECONDS, e.g. 5/10, got %r" % text) from None
    if count < 1 or seconds <= 0:
        raise ValueError("expected COUNT >= 1 and SECONDS > 0, got %r" % text)
    return count, seconds

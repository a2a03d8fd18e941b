"""Fuzzing the page's endpoints (web/app.py) through the existing web rig: `python -m web` on a running
hub and mosquitto, over HTTP. Generated requests (methods, paths, query strings, headers, bodies, with or
without the session cookie, the CSRF token and a same-site Origin) never get a 500, never show a traceback,
and a press is sent only for a request that carried the session and its CSRF token."""

import json
import time
import urllib.parse

from hypothesis import example, given
from hypothesis import strategies as st

from rigs.device import wait_for
from rigs.web import WebServer
from tests.integration.test_web_security import presses_in_ledger, web_args
from tests.integration.web_client import PageClient

# Every route but /api/events, whose answer to a signed-in GET is an endless event stream.
PATHS = st.sampled_from(
    [
        "/",
        "/login",
        "/api/state",
        "/api/press",
        "/api/presses/press-0123456789abcdef",
        "/api/history",
        "/api/chart.png",
        "/api/health",
        "/api/status",
        "/static/app.js",
        "/nowhere",
        "/api/presses/x",
    ]
)
SAFE_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
QUERIES = st.dictionaries(
    st.sampled_from(["from", "to", "days", "event", "x"]),
    st.sampled_from(["2026-11-01", "2026-13-40", "-1", "99999999", "", "0"]) | SAFE_TEXT,
    max_size=3,
)
BODIES = st.one_of(
    st.sampled_from(["SINGLE", "DOUBLE", "LONG", "TRIPLE", None, 1, []]).map(
        lambda e: json.dumps({"event": e})
    ),
    st.binary(max_size=200),
    st.just(b"x" * 20000),
    st.builds(
        lambda csrf, token: urllib.parse.urlencode({"csrf": csrf, "token": token}), SAFE_TEXT, SAFE_TEXT
    ),
)
CONTENT_TYPES = (
    st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", ""]) | SAFE_TEXT
)


@st.composite
def requests(draw):
    headers = {}
    if draw(st.booleans()):
        headers["Content-Type"] = draw(CONTENT_TYPES)
    csrf = draw(st.sampled_from(["valid", "wrong", "absent"]))
    origin = draw(st.sampled_from(["same", "other", "absent"]))
    cookie = draw(st.sampled_from(["valid", "wrong", "absent"]))
    for _ in range(draw(st.integers(0, 2))):
        headers[draw(st.sampled_from(["Accept", "X-Forwarded-For", "Host", "Referer", "X-Custom"]))] = draw(
            SAFE_TEXT
        )
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]))
    path = draw(PATHS)
    query = draw(QUERIES)
    body = draw(BODIES) if method in ("POST", "PUT", "PATCH") else None
    return (
        method,
        path + ("?" + urllib.parse.urlencode(query) if query else ""),
        headers,
        body,
        csrf,
        origin,
        cookie,
    )


def test_generated_requests_never_fail_the_server_nor_press_without_the_csrf_token(
    hub, pki, broker, tmp_path
):
    server = WebServer(
        *web_args(hub, pki, broker, "--press-limit", "1000/1"), log_path=str(tmp_path / "web.log")
    )
    server.start()
    try:
        page = PageClient(server.url)
        assert page.open_page()[0] == 200 and page.csrf
        session = page.cookie
        accepted = []

        press = ("POST", "/api/press", {"Content-Type": "application/json"}, json.dumps({"event": "SINGLE"}))

        @given(requests())
        @example(press + ("valid", "same", "valid"))  # taken
        @example(press + ("valid", "absent", "valid"))  # taken
        @example(press + ("valid", "other", "valid"))  # cross-site: refused
        @example(press + ("absent", "same", "valid"))  # no CSRF token: refused
        @example(press + ("valid", "same", "wrong"))  # not this session's: refused
        def check(request):
            method, path, headers, body, csrf, origin, cookie = request
            headers = dict(headers)
            client = PageClient(server.url)
            client.cookie = {"valid": session, "wrong": session[:-4] + "0000", "absent": None}[cookie]
            if csrf != "absent":
                headers["X-CSRF-Token"] = page.csrf if csrf == "valid" else "0" * len(page.csrf)
            if origin != "absent":
                headers["Origin"] = server.url if origin == "same" else "http://evil.example"
            if "Host" in headers and origin == "same":
                del headers[
                    "Host"
                ]  # the Origin check compares with Host: a forged Host is a cross-site request
            status, _, answer = client.request(method, path, body, headers)
            text = json.dumps(answer) if isinstance(answer, dict) else answer.decode("latin-1")
            assert status < 500 and "Traceback" not in text, (status, text[:300])
            if status == 202:
                assert (method, path.split("?")[0], cookie, csrf) == ("POST", "/api/press", "valid", "valid")
                assert origin != "other"
                accepted.append(answer["press_id"])

        check()
        assert len(accepted) >= 2  # the two examples that carry the session, its token and no foreign Origin
        # Every press the page took is in the ledger, and no other.
        wait_for(lambda: len(presses_in_ledger(hub)) >= len(accepted), 10, "the page's presses in the ledger")
        time.sleep(0.3)
        assert sorted(e["detail"]["press_id"] for e in presses_in_ledger(hub)) == sorted(accepted)
        assert "Traceback" not in server.output()
    finally:
        server.stop()

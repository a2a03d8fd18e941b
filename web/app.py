"""The page's HTTP side (Starlette): one HTML page, its static files, a JSON API and a server-sent
event stream of the live state.

| route | what |
|---|---|
| `GET /` | the page (or the sign-in form on the LAN until the token was given) |
| `POST /login` | form: token + CSRF token -> a signed-in session cookie |
| `GET /api/events` | server-sent events: `state` (the snapshot of web/backend.py) on every change |
| `GET /api/state` | the same snapshot, once |
| `POST /api/press` | JSON `{"event": "SINGLE"|"DOUBLE"|"LONG", "thing": T}` (target_feeder), X-CSRF-Token |
| `GET /api/presses/<press id>` | one press and its outcome |
| `GET /api/history?from=YYYY-MM-DD&to=YYYY-MM-DD[&thing=T]` | presses in the UTC days (of feeder T) |
| `GET /api/health` | the ledger's hash chain, its last signed checkpoint and the seq gaps |
| `GET /api/status` | the hub's `python -m cloud.hub status --json` report (cloud/hub/status.py); 404 on AWS |
| `GET /api/schedules`, `POST /api/schedule` | the feeders' schedules (web/schedules.py) |
| `GET /api/incidents` | open and last resolved incidents, undelivered notifications (web/incidents.py) |

Every error is JSON `{"error": "..."}` with a 4xx status that says which rule was broken; a press that
did not go out (502) also has `"detail"`, the technical cause, for the page's "Details" toggle.

A route is a module-level `async def route(request, shared)` listed in ROUTES; `shared` is the app's
Shared state (below), handed over by `guarded`.
"""

import asyncio
import contextlib
import html
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from datetime import date, datetime, timedelta, timezone

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, RedirectResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from web import incidents, schedules
from web.backend import REFRESH_S, BackendError
from web.responses import JSONResponse
from web.security import COOKIE, CSRF_HEADER

log = logging.getLogger("web")
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
MAX_BODY = 1024
MAX_DAYS = 366
DEFAULT_DAYS = 7
PRESS_ID = re.compile(r"^press-[0-9a-f]{16}$")
KEEPALIVE_S = 15
PRESS_FIELDS = ("press_id", "event", "bowls", "requested_at", "outcome_at", "fed_bowls", "reason")
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Refused(Exception):
    def __init__(self, status, message, headers=None, detail=None):
        super().__init__(message)
        self.status, self.headers, self.detail = status, headers or {}, detail


def error(status, message, headers=None, detail=None):
    body = {"error": message} if detail is None else {"error": message, "detail": detail}
    return JSONResponse(body, status_code=status, headers={**HEADERS, **(headers or {})})


class Watcher(threading.Thread):
    """Reads the snapshot when the projection changed (or every `refresh_s`, for clocks: last seen,
    a TTL running out) and pushes it to every open event stream."""

    def __init__(self, backend, poll_s, refresh_s):
        super().__init__(name="web-watcher", daemon=True)
        self.backend, self.poll_s, self.refresh_s = backend, poll_s, refresh_s
        self.stopping = threading.Event()
        self.subscribers = set()
        self.lock = threading.Lock()
        self.latest = None
        self.ready = threading.Event()

    def run(self):
        pushed_at = 0.0
        while not self.stopping.is_set():
            now = time.time()
            try:
                if self.backend.changed() or now - pushed_at >= self.refresh_s:
                    self.publish(json.dumps(self.backend.snapshot(now)))
                    pushed_at = now
            except Exception as failure:  # a backend hiccup (DynamoDB, a locked file): say so, keep going
                log.warning("web: reading the projection failed: %s", failure)
                self.publish(json.dumps({
                    "error": "The page cannot read the feeding history right now; it keeps trying.",
                    "detail": "%s (see the web log)" % type(failure).__name__,
                }))
                pushed_at = now
            self.ready.set()
            self.stopping.wait(self.poll_s)

    def publish(self, text):
        self.latest = text
        with self.lock:
            subscribers = list(self.subscribers)
        for loop, queue in subscribers:
            loop.call_soon_threadsafe(_put_latest, queue, text)

    def subscribe(self):
        entry = (asyncio.get_running_loop(), asyncio.Queue(maxsize=4))
        with self.lock:
            self.subscribers.add(entry)
        return entry

    def unsubscribe(self, entry):
        with self.lock:
            self.subscribers.discard(entry)


def _put_latest(queue, text):
    """A slow reader needs only the newest state: drop the oldest waiting one."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(text)


def _sse(text):
    return "event: state\ndata: %s\n\n" % text


def parse_range(query, today):
    """(first, last) days from ?from=&to= (YYYY-MM-DD, UTC days, both included); a clear ValueError."""
    unknown = set(query) - {"from", "to", "thing"}
    if unknown:
        raise ValueError("unknown parameter %s: expected from, to (YYYY-MM-DD) and thing"
                         % sorted(unknown)[0][:40])
    days = {}
    for name, default in (("from", today - timedelta(days=DEFAULT_DAYS - 1)), ("to", today)):
        text = query.get(name)
        if text is None:
            days[name] = default
            continue
        if len(text) != 10:
            raise ValueError("%s: expected a day as YYYY-MM-DD, got %r" % (name, text[:40]))
        try:
            days[name] = date.fromisoformat(text)
        except ValueError:
            raise ValueError("%s: expected a day as YYYY-MM-DD, got %r" % (name, text)) from None
    if days["from"] > days["to"]:
        raise ValueError("from must not be after to")
    if (days["to"] - days["from"]).days >= MAX_DAYS:
        raise ValueError("at most %d days at once" % MAX_DAYS)
    return days["from"], days["to"]


class Shared:
    """What every route shares, made once per app by create_app and reached from a request as
    `request.app.state.shared` (Starlette's place for application state): the backend, the sign-in
    guard, the press limit, the watcher that feeds the event streams, and the two HTML templates."""

    def __init__(self, backend, guard, limit, watcher):
        self.backend, self.guard, self.limit, self.watcher = backend, guard, limit, watcher
        # The household's feeders, in the page itself: its script makes their cards before any state arrives.
        self.page = _read(os.path.join(STATIC, "index.html")).replace(
            "{{feeders}}", html.escape(json.dumps(backend.feeders), quote=True))
        self.login_page = _read(os.path.join(STATIC, "login.html"))

    def session_of(self, request):
        cookie = request.cookies.get(COOKIE)
        return cookie, self.guard.session(cookie)

    def require_session(self, request):
        cookie, session = self.session_of(request)
        if session is None or not session[1]:
            raise Refused(401, "not signed in: open the page and give the token")
        return cookie

    def require_csrf(self, request, cookie, presented):
        origin = request.headers.get("origin")
        if origin is not None and origin != "%s://%s" % (request.url.scheme, request.headers.get("host")):
            raise Refused(403, "cross-origin request refused (Origin %s)" % origin[:80])
        if not self.guard.csrf_ok(cookie, presented):
            raise Refused(403, "missing or wrong CSRF token: reload the page")


def guarded(handler):
    """A route's endpoint: calls `handler(request, shared)` and answers a Refused as its JSON error."""

    async def endpoint(request):
        try:
            return await handler(request, request.app.state.shared)
        except Refused as refused:
            return error(refused.status, str(refused), refused.headers, refused.detail)

    return endpoint


async def index(request, shared):
    cookie, session = shared.session_of(request)
    fresh = session is None
    if fresh:
        cookie = shared.guard.new_cookie()
        session = shared.guard.session(cookie)
    template = shared.page if session[1] else shared.login_page
    response = HTMLResponse(template.replace("{{csrf}}", shared.guard.csrf_token(cookie)), headers=HEADERS)
    if fresh:
        _set_cookie(response, cookie, request)
    return response


async def login(request, shared):
    cookie, session = shared.session_of(request)
    if session is None:
        raise Refused(403, "no session: open the page first")
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise Refused(415, "expected a form (application/x-www-form-urlencoded)")
    try:
        form = urllib.parse.parse_qs((await _bounded_body(request)).decode(), max_num_fields=4)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "form: not a form") from None
    shared.require_csrf(request, cookie, form.get("csrf", [""])[0])
    if not shared.guard.token_ok(form.get("token", [""])[0]):
        raise Refused(401, "wrong token")
    response = RedirectResponse("/", status_code=303, headers=HEADERS)
    _set_cookie(response, shared.guard.new_cookie(signed_in=True), request)
    return response


async def events(request, shared):
    shared.require_session(request)
    watcher = shared.watcher
    entry = watcher.subscribe()

    async def stream():
        try:
            yield "retry: 1000\n\n"
            if watcher.latest is not None:
                yield _sse(watcher.latest)
            while True:
                try:
                    text = await asyncio.wait_for(entry[1].get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                yield _sse(text)
        finally:
            watcher.unsubscribe(entry)

    headers = {**HEADERS, "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def state(request, shared):
    shared.require_session(request)
    snapshot = await run_in_threadpool(shared.backend.snapshot, time.time())
    return JSONResponse(snapshot, headers=HEADERS)


async def press(request, shared):
    cookie = shared.require_session(request)
    shared.require_csrf(request, cookie, request.headers.get(CSRF_HEADER))
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise Refused(415, "expected Content-Type: application/json")
    body = await _bounded_body(request)
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "body: not JSON") from None
    if not isinstance(message, dict) or "event" not in message or set(message) - {"event", "thing"}:
        raise Refused(400, 'body: expected {"event": "SINGLE" | "DOUBLE" | "LONG", "thing": ...} '
                      'and nothing else')
    event = message["event"]
    if event not in ("SINGLE", "DOUBLE", "LONG"):
        raise Refused(400, "event: expected SINGLE, DOUBLE or LONG, got %s" % json.dumps(event)[:40])
    thing = target_feeder(message, shared.backend.feeders)
    wait = shared.limit.take(time.monotonic())
    if wait:
        raise Refused(429, "too many presses: try again in %.0f s" % max(1, wait),
                      {"Retry-After": "%d" % max(1, round(wait))})
    try:
        sent = await run_in_threadpool(shared.backend.press, event, thing)
    except BackendError as failure:
        log.warning("web: %s press for %s did not go out: %s", event, thing, failure.detail)
        raise Refused(502, str(failure), detail=failure.detail) from None
    log.info("web: %s pressed for %s (%s)", event, thing, sent["press_id"])
    return JSONResponse(sent, status_code=202, headers=HEADERS)


def target_feeder(message, feeders):
    """The press's `thing`: a feeder of the household; left out, the household's only feeder."""
    things = [feeder["thing"] for feeder in feeders]
    if "thing" not in message and len(things) == 1:
        return things[0]
    thing = message.get("thing")
    if thing not in things:
        raise Refused(400, "thing: expected the feeder to feed, one of %s; got %s"
                      % (", ".join(things)[:200], json.dumps(thing)[:40]))
    return thing


async def press_outcome(request, shared):
    shared.require_session(request)
    wanted = request.path_params["press_id"]
    if not PRESS_ID.match(wanted):
        raise Refused(400, "press id: expected press- and 16 lowercase hex digits")
    found = await run_in_threadpool(shared.backend.outcome, wanted, time.time())
    if found is None:
        raise Refused(404, "no press %s in the history (yet)" % wanted)
    return JSONResponse(found, headers=HEADERS)


def history_in(request, backend):
    try:
        first, last = parse_range(request.query_params, datetime.now(timezone.utc).date())
    except ValueError as problem:
        raise Refused(400, str(problem)) from None
    thing = request.query_params.get("thing")
    if thing is not None and thing not in [feeder["thing"] for feeder in backend.feeders]:
        raise Refused(400, "thing: not a feeder of the household: %s" % json.dumps(thing)[:40])
    history = backend.history(time.time())
    return history, first, last, history.between(first, last, thing)


async def history(request, shared):
    shared.require_session(request)
    found, first, last, presses = await run_in_threadpool(history_in, request, shared.backend)
    per_day = found.per_day(presses)
    body = {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "per_day": {day.isoformat(): counts for day, counts in sorted(per_day.items())},
        "presses": [
            {k: p.get(k) for k in PRESS_FIELDS}
            | {"outcome": p["shown"], "thing": p["feeder"]}
            for p in presses
        ],
    }
    return JSONResponse(body, headers=HEADERS)


async def health(request, shared):
    shared.require_session(request)
    return JSONResponse(await run_in_threadpool(shared.backend.health), headers=HEADERS)


async def status(request, shared):
    shared.require_session(request)
    try:
        report = await run_in_threadpool(shared.backend.status)
    except BackendError as failure:
        raise Refused(503, str(failure), detail=failure.detail) from None
    if report is None:
        raise Refused(404, "no status on AWS: /api/status is the self-hosted hub's (broker, ingest, ledger)")
    return JSONResponse(report, headers=HEADERS)


async def incidents_route(request, shared):
    shared.require_session(request)
    return JSONResponse(await run_in_threadpool(incidents.read, shared.backend.args), headers=HEADERS)


@contextlib.asynccontextmanager
async def lifespan(app):
    watcher = app.state.shared.watcher
    watcher.start()
    await run_in_threadpool(watcher.ready.wait, 10)
    yield
    watcher.stopping.set()


async def http_error(request, failure):
    where = "%s %s" % (request.method, request.url.path[:80])
    return error(failure.status_code, "%s: %s" % (failure.detail, where))


ROUTES = [
    Route("/", guarded(index)),
    Route("/login", guarded(login), methods=["POST"]),
    Route("/api/events", guarded(events)),
    Route("/api/state", guarded(state)),
    Route("/api/press", guarded(press), methods=["POST"]),
    Route("/api/presses/{press_id}", guarded(press_outcome)),
    Route("/api/history", guarded(history)),
    Route("/api/health", guarded(health)),
    Route("/api/status", guarded(status)),
    *schedules.routes(guarded, Refused, lambda request: _bounded_body(request), HEADERS),
    Route("/api/incidents", guarded(incidents_route)),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]


def create_app(backend, guard, limit, poll_s=0.02, refresh_s=REFRESH_S):
    app = Starlette(routes=ROUTES, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.shared = Shared(backend, guard, limit, Watcher(backend, poll_s, refresh_s))
    return app


async def _bounded_body(request):
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise Refused(413, "body: at most %d bytes" % MAX_BODY)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Refused(413, "body: at most %d bytes" % MAX_BODY)
    return body


def _set_cookie(response, cookie, request):
    response.set_cookie(
        COOKIE, cookie, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()

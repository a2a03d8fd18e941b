"""The page's schedule section (issue 20): each feeder's schedule, its next feeding in the household's
time, its scheduled feedings with their outcome, and edits, through the same path as `make schedule`
(cloud/schedule_tool.py: validated against the household file, one ScheduleChanged in the ledger).

| route | what |
|---|---|
| `GET /api/schedules` | per feeder: schedule, version, its report, next feeding, scheduled feedings |
| `POST /api/schedule` | JSON `{"thing", "action": set|remove|grace|pause|resume|skip, ...}`, X-CSRF-Token |

A POST is guarded as a press is (signed-in session, CSRF token, same origin, bounded body); a change that
does not validate is 400 with the one-line reason and records nothing; a version taken meanwhile is 409.
web/app.py adds ROUTES to its own; web/static/schedule.js is the section's script.
"""

import json
import time

from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from cloud import schedule, schedule_tool
from web.responses import JSONResponse
from web.security import CSRF_HEADER

ACTIONS = ("set", "remove", "grace", "pause", "resume", "skip")
RECENT = 10  # scheduled feedings shown per feeder


def view(backend, now):
    """What GET /api/schedules answers."""
    household = backend.household
    with backend.lock:
        rows = list(backend.store.rows())
    by_key = dict(rows)
    feeders = []
    for entry in household["things"]:
        if entry["role"] != "feeder":
            continue
        row = by_key.get("schedule#" + entry["thing"], {})
        changed = row.get("changed") or {}
        found = changed.get("schedule")
        scheduled = sorted(
            (doc for key, doc in rows if key.startswith("press#sch-") and _answered_by(doc, entry["thing"])),
            key=lambda doc: doc.get("requested_at") or 0,
        )[-RECENT:]
        feeders.append(
            {
                "thing": entry["thing"],
                "name": entry["name"],
                "timezone": household["timezone"],
                "version": changed.get("version", 0),
                "schedule": found,
                "reported": row.get("reported"),
                "next": schedule.next_feeding(found, now) if found else None,
                "scheduled": [_feeding(doc) for doc in reversed(scheduled)],
            }
        )
    return {"now": now, "timezone": household["timezone"], "feeders": feeders}


def _answered_by(doc, thing):
    """A scheduled feeding's row is the result's (its id names no thing): the results' `thing:seq` marks."""
    return any(mark.rpartition(":")[0] == thing for mark in doc.get("result_seqs", []))


def _feeding(doc):
    return {
        "id": doc.get("press_id"),
        "due": doc.get("requested_at"),
        "outcome": doc.get("outcome") or "pending",
        "outcome_at": doc.get("outcome_at"),
        "fed_bowls": doc.get("fed_bowls", []),
        "reason": doc.get("reason"),
    }


def change(backend, message, now):
    """Apply one page edit; (status, body)."""
    thing = message.get("thing")
    feeders = [feeder["thing"] for feeder in backend.feeders]
    if thing not in feeders:
        return 400, {
            "error": "thing: expected one of %s, got %s" % (", ".join(feeders), json.dumps(thing)[:40])
        }
    action = message.get("action")
    try:
        if action not in ACTIONS:
            raise schedule.ScheduleError("action: expected one of %s" % ", ".join(ACTIONS))
        fields = _fields(message, action)
        with backend.lock:
            version, valid = schedule_tool.save(
                backend.args, backend.store, thing, action, "page", now, **fields
            )
    except schedule_tool.ChangedMeanwhile as error:
        return 409, {"error": str(error)}
    except schedule.ScheduleError as error:
        return 400, {"error": str(error)}
    return 202, {"thing": thing, "version": version, "schedule": valid}


def _fields(message, action):
    allowed = {"set": {"slot"}, "remove": {"slot"}, "grace": {"grace_min"}}.get(action, set())
    extra = set(message) - {"thing", "action"} - allowed
    if extra:
        raise schedule.ScheduleError("%s: unknown field for %s" % (sorted(extra)[0][:40], action))
    if action == "set":
        slot = message.get("slot")
        if isinstance(slot, dict) and isinstance(slot.get("days"), str):
            slot = dict(slot, days=schedule.parse_days(slot["days"]))
        return {"slot": slot}
    if action == "remove":
        return {"remove": message.get("slot")}
    if action == "grace":
        return {"grace_min": message.get("grace_min")}
    return {}


def routes(guarded, refused, bounded_body, headers):
    """The section's routes, with web/app.py's guard, refusal, bounded body reader and headers."""

    async def schedules_route(request, shared):
        shared.require_session(request)
        return JSONResponse(await run_in_threadpool(view, shared.backend, time.time()), headers=headers)

    async def change_route(request, shared):
        cookie = shared.require_session(request)
        shared.require_csrf(request, cookie, request.headers.get(CSRF_HEADER))
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise refused(415, "expected Content-Type: application/json")
        try:
            message = json.loads(await bounded_body(request))
        except (ValueError, UnicodeDecodeError):
            raise refused(400, "body: not JSON") from None
        if not isinstance(message, dict):
            raise refused(400, 'body: expected {"thing": ..., "action": ...}')
        status, body = await run_in_threadpool(change, shared.backend, message, time.time())
        if status >= 400:
            raise refused(status, body["error"])
        return JSONResponse(body, status_code=status, headers=headers)

    return [
        Route("/api/schedules", guarded(schedules_route)),
        Route("/api/schedule", guarded(change_route), methods=["POST"]),
    ]

"""The household page (`make web`): feed buttons, the outcome of a press, live device status, today's
portions, the week's portions and the recent presses, the ledger's health. See web/README.md.

| module | concern |
|---|---|
| `backend.py` | presses and reads, through cloud/press.py and cloud/history.py, on the hub or AWS |
| `security.py` | session cookies, CSRF, the LAN token, the press rate limit |
| `app.py` | routes, the JSON API, the server-sent event stream |
| `__main__.py` | the command line (uvicorn) |
| `static/` | the page: HTML, CSS and plain JavaScript, no build step |
"""

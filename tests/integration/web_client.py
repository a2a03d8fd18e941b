"""A small HTTP client for the page's API tests: keeps the session cookie, reads the CSRF token from
the page, answers (status, headers, body) with the body parsed when it is JSON."""

import http.client
import json
import re
import urllib.parse


class PageClient:
    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.cookie = None
        self.csrf = None

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=20)
        sent = dict(headers or {})
        if self.cookie and "Cookie" not in sent:
            sent["Cookie"] = self.cookie
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            raw = response.read()
            got = {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()
        if "set-cookie" in got:
            self.cookie = got["set-cookie"].split(";")[0]
        if got.get("content-type", "").startswith("application/json"):
            return response.status, got, json.loads(raw)
        return response.status, got, raw

    def open_page(self):
        status, headers, body = self.request("GET", "/")
        found = re.search(rb'name="csrf(?:-token)?" (?:content|value)="([0-9a-f]+)"', body)
        self.csrf = found.group(1).decode() if found else None
        return status, body

    def press(self, event="SINGLE", csrf=True, thing=None, **headers):
        """A press of the feed button (of feeder `thing`; None: the household's only feeder)."""
        sent = {"Content-Type": "application/json"}
        if csrf:
            sent["X-CSRF-Token"] = self.csrf
        sent.update(headers)
        body = {"event": event} if thing is None else {"event": event, "thing": thing}
        return self.request("POST", "/api/press", json.dumps(body), sent)

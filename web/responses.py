"""The page's JSON answers: Starlette's JSONResponse, sent as ASCII (every other character as its JSON
escape, which the page's JSON.parse reads the same). A string UTF-8 cannot encode (a lone surrogate that a
history kept from before the states handler refused it, docs/protocol.md) then travels as its escape,
instead of failing every answer that holds it with a 500."""

import json

from starlette.responses import JSONResponse as StarletteJSONResponse


class JSONResponse(StarletteJSONResponse):
    def render(self, content):
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")

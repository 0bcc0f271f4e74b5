"""Starlette responses that serialise Decimals as QBO numbers."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import Response

from qbsync_sandbox.clock import dumps


class QboJSONResponse(Response):
    """JSON response with an ``intuit_tid`` header, as QBO sends."""

    media_type = "application/json"

    def __init__(
        self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        merged = {"intuit_tid": secrets.token_hex(16), **(headers or {})}
        super().__init__(content=content, status_code=status_code, headers=merged)

    def render(self, content: Any) -> bytes:
        """Serialise the payload."""
        return dumps(content)

    @classmethod
    def raw(cls, body: bytes, status_code: int = 200) -> QboJSONResponse:
        """A response around an already serialised body (a replayed answer)."""
        response = cls(None, status_code)
        response.body = body
        response.init_headers({"intuit_tid": secrets.token_hex(16)})
        return response

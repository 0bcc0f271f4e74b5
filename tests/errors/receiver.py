"""A real HTTP webhook receiver (served by uvicorn) that records what it gets."""

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """ASGI app: answers 500 to the first `failures[path]` requests of a path, then 204."""

    requests: list[Received] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        status = 204
        if self.failures[path] > 0:
            self.failures[path] -= 1
            status = 500
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.requests.append(Received(path, headers, body, status))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def at(self, path: str, status: int | None = None) -> list[Received]:
        return [r for r in self.requests if r.path == path and status in (None, r.status)]

    async def wait(
        self, path: str, count: int, status: int | None = 204, timeout: float = 15
    ) -> list[Received]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = self.at(path, status)
            if len(found) >= count or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.05)

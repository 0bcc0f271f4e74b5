"""A minimal W3C WebDriver client over httpx, driving Debian's chromium via chromedriver.

Selenium would add a dependency (and a driver manager that tries to download
browsers); the handful of WebDriver calls a page test needs are plain HTTP.
"""

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from qbsync_dev.processes import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-first-run",
]


class Browser:
    """One WebDriver session."""

    def __init__(self, client: httpx.AsyncClient, session: str) -> None:
        self._client = client
        self._session = session

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self._client.request(
            method, f"/session/{self._session}{path}", json=body, timeout=30
        )
        payload = response.json()
        if response.is_error:
            raise AssertionError(f"webdriver {method} {path}: {payload['value']}")
        return payload["value"]

    async def get(self, url: str) -> None:
        await self._call("POST", "/url", {"url": url})

    async def url(self) -> str:
        return str(await self._call("GET", "/url"))

    async def find(self, css: str) -> str:
        found = await self._call("POST", "/element", {"using": "css selector", "value": css})
        assert isinstance(found, dict), found
        return str(found[ELEMENT])

    async def find_all(self, css: str) -> list[str]:
        found = await self._call("POST", "/elements", {"using": "css selector", "value": css})
        return [str(f[ELEMENT]) for f in found]

    async def click(self, css: str) -> None:
        await self._call("POST", f"/element/{await self.find(css)}/click", {})

    async def submit(self, css: str) -> None:
        """Click `css` and wait until the page it leads to has loaded."""
        old = await self.find("html")
        await self.click(css)
        for _ in range(200):
            response = await self._client.get(f"/session/{self._session}/element/{old}/name")
            if response.is_error:  # stale: the old document is gone
                break
            await asyncio.sleep(0.05)
        for _ in range(200):
            state = await self._call(
                "POST", "/execute/sync", {"script": "return document.readyState", "args": []}
            )
            if state == "complete":
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the page after clicking {css} never finished loading")

    async def type(self, css: str, text: str) -> None:
        await self._call("POST", f"/element/{await self.find(css)}/value", {"text": text})

    async def text(self, css: str) -> str:
        return str(await self._call("GET", f"/element/{await self.find(css)}/text"))

    async def texts(self, css: str) -> list[str]:
        return [
            str(await self._call("GET", f"/element/{e}/text")) for e in await self.find_all(css)
        ]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless chromium session; fails the test (never skips) when chromium is missing."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.exists() and shutil.which(binary.name) is None:
            pytest.fail(
                f"{binary} is missing: apt-get install -y chromium chromium-driver", pytrace=False
            )
    port = free_port()
    driver = await asyncio.create_subprocess_exec(
        str(CHROMEDRIVER),
        f"--port={port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    if (await client.get("/status")).json()["value"]["ready"]:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            capabilities = {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": str(CHROMIUM), "args": ARGS},
            }
            response = await client.post(
                "/session", json={"capabilities": {"alwaysMatch": capabilities}}, timeout=60
            )
            assert response.status_code == 200, response.text
            session = response.json()["value"]["sessionId"]
            try:
                yield Browser(client, session)
            finally:
                await client.delete(f"/session/{session}", timeout=30)
    finally:
        driver.terminate()
        await asyncio.wait_for(driver.wait(), timeout=10)

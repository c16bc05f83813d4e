"""A web server of the tests on 127.0.0.1 serving what users link to, and a watch on the
connections the event loop makes, so that a link test never reaches beyond this machine.

The links a test sends point here; ``FETCH_PRIVATE_ADDRESSES=true`` lets the bot fetch them
(it refuses loopback otherwise). A test of the refusal uses loopback forms of this very
server (127.0.0.2, [::1], 2130706433, localhost, ...) and ``watch_connections``: the refusal
must come before any request reaches it, and no test names an address off this machine, so
even a wrong bot sends nothing away; the watch refuses any connection beyond 127.0.0.1 too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from tests.support.fakes.transfer import Pace

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PAGE = b"<!DOCTYPE html><html><head><title>A picture</title></head><body>...</body></html>"
SECRET_QUERY = "sig=link-secret-0d6f"
"""In the tests' links: a signed link's query, which must appear in no log and no request."""
TRICKLE_S = 0.05
"""How often a trickling server sends its next byte: a client that left is seen within it."""


class LinkSite:
    """Answers each path as a test says; notes each request's path with its query."""

    def __init__(self) -> None:
        self.pages: dict[str, Handler] = {}
        self.seen: list[str] = []
        self.left: list[str] = []
        """The paths whose client closed the connection while the body was still coming (for
        the servers that send slowly: ``trickling``, ``paced``)."""
        self.streaming = 0
        """Clients a ``trickling`` body is being sent to right now."""
        self.port = 0

    def url(self, path: str) -> str:
        """The link to ``path`` here, with a query that stands for a secret."""
        return f"http://127.0.0.1:{self.port}{path}?{SECRET_QUERY}"

    def serve(self, path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Serves ``data`` at ``path`` with its Content-Length; returns the link to it."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(body=data, content_type=content_type)

        self.pages[path] = handler
        return self.url(path)

    def stream(self, path: str, data: bytes, content_type: str = "image/png") -> str:
        """Serves ``data`` at ``path`` chunked, without a Content-Length; returns the link."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": content_type})
            response.enable_chunked_encoding()
            await response.prepare(request)
            for start in range(0, len(data), 1024):
                await response.write(data[start : start + 1024])
            await response.write_eof()
            return response

        self.pages[path] = handler
        return self.url(path)

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        """Answers ``path`` with a redirect to ``to``; returns the link to ``path``."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": to})

        self.pages[path] = handler
        return self.url(path)

    def lying(self, path: str, data: bytes, declared: int) -> str:
        """Declares ``declared`` bytes, sends ``data`` (fewer), then closes the connection."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "image/png"})
            response.content_length = declared
            await response.prepare(request)
            await response.write(data)
            assert request.transport is not None
            request.transport.close()
            return response

        self.pages[path] = handler
        return self.url(path)

    def stalling(self, path: str, head: bytes) -> str:
        """Sends ``head`` of a larger file, then nothing more until the client gives up."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "image/png"})
            response.content_length = len(head) * 1000
            await response.prepare(request)
            await response.write(head)
            await asyncio.sleep(3600)
            return response

        self.pages[path] = handler
        return self.url(path)

    def trickling(self, path: str, head: bytes, *, declared: bool = True) -> str:
        """Sends ``head`` of a file a MB larger (declared, or chunked without a length), then
        one byte every ``TRICKLE_S`` until the client goes away, which ``left`` notes."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "image/png"})
            if declared:
                response.content_length = len(head) + 1024 * 1024
            else:
                response.enable_chunked_encoding()
            await response.prepare(request)
            self.streaming += 1
            try:
                await response.write(head)
                while True:
                    await asyncio.sleep(TRICKLE_S)
                    await response.write(b"\0")
            except ConnectionError:
                self.left.append(path)
            except asyncio.CancelledError:  # the client went away: its handler is cancelled
                self.left.append(path)
                raise
            finally:
                self.streaming -= 1
            return response

        self.pages[path] = handler
        return self.url(path)

    def paced(self, path: str, data: bytes, bandwidth: float) -> str:
        """Serves ``data`` with its Content-Length at ``bandwidth`` bytes per second; a client
        that goes away first is noted in ``left``."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "image/png"})
            response.content_length = len(data)
            await response.prepare(request)
            pace = Pace(bandwidth)
            step = pace.chunk_size()
            try:
                for start in range(0, len(data), step):
                    chunk = data[start : start + step]
                    await pace.until(start + len(chunk))
                    await response.write(chunk)
            except ConnectionError:
                self.left.append(path)
                return response
            except asyncio.CancelledError:  # the client went away: its handler is cancelled
                self.left.append(path)
                raise
            await response.write_eof()
            return response

        self.pages[path] = handler
        return self.url(path)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request.path_qs)
        page = self.pages.get(request.path)
        return await page(request) if page else web.Response(status=404)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LinkSite]:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._answer)
        # A client that goes away ends its handler (a stalling one would sleep for an hour), and
        # shutting down waits for no one.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1
        )
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self.port = runner.addresses[0][1]
        try:
            yield self
        finally:
            await runner.cleanup()


def watch_connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection the running loop is asked for, as (host, port); one to any
    address but 127.0.0.1 is refused (and noted)."""
    loop = asyncio.get_running_loop()
    create_connection = loop.create_connection
    made: list[tuple[str, int]] = []

    async def watched(protocol: Any, host: Any = None, port: Any = None, **kwargs: Any) -> Any:
        made.append((host, port))
        if host != "127.0.0.1":
            raise ConnectionRefusedError(f"the tests connect to 127.0.0.1 only, not {host}")
        return await create_connection(protocol, host, port, **kwargs)

    monkeypatch.setattr(loop, "create_connection", watched)
    return made

"""``/healthz`` and ``/metrics`` over HTTP (``HEALTH_LISTEN``): a container's probe and
Prometheus' scrape.

aiohttp's low-level web server parses HTTP, so no request line or header is parsed here. It is
set up to cost little whoever calls it: one request per connection (``Connection: close``), the
request head capped in size, a connection that has not sent a whole head within
``HEAD_TIMEOUT_S`` of opening closed unanswered, and one database check at a time however many
probes arrive. Nothing of a request is logged.

Open connections are not capped: aiohttp has no such limit (``TCPSite``'s backlog only queues
connections not yet accepted), and a cap closes the next caller, the probe included, which let
idle connections hold /healthz. The head deadline bounds how long each one stays instead.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.http import HttpProcessingError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.errors import StartupFailed
from bot.store import database_unavailable

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot.app import Core

log = logging.getLogger(__name__)

DATABASE_TIMEOUT_S = 2.0
"""How long /healthz waits for the database: under the Docker HEALTHCHECK's 3 s."""
HEAD_TIMEOUT_S = 5.0
"""How long a connection may stay open without a whole request head (aiohttp's keep-alive
timeout, which runs from the connection's opening): idle or half-sent, it is closed then."""
LINGER_S = 1.0
"""How long a request body nobody reads is taken and dropped after the answer: closing with
unread bytes would reset the connection and could lose the answer on the client's side."""
STOP_S = 1.0
"""How long an answer being written may take to finish once the server stops."""
MAX_LINE_BYTES = 8190
"""The request line; a longer one is answered 400 (aiohttp's default)."""
MAX_FIELD_BYTES = 8190
"""One header line; a longer one is answered 400 (aiohttp's default)."""
MAX_HEADERS = 32
"""Header lines in one request: clients that probe or scrape send a handful."""
TEXT = "text/plain; charset=utf-8"
METHODS = ("GET", "HEAD")


class _MalformedRequests(logging.Filter):
    """Drops aiohttp's report of a request it could not parse: a stranger's bytes, already
    answered 400, are no fault of the bot's, and no request is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], HttpProcessingError))


_server_log = log.getChild("server")
"""aiohttp's own reports on connections, unexpected errors in writing an answer among them."""
_server_log.addFilter(_MalformedRequests())


def listen_address(listen: str) -> tuple[str, int]:
    """``0.0.0.0:9464`` or ``[::]:9464`` → (host, port); HEALTH_LISTEN is validated already."""
    host, _, port = listen.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def text(status: HTTPStatus, said: str | None = None) -> web.Response:
    """A plain-text answer; its status phrase in lower case unless ``said`` is given."""
    body = status.phrase.lower() if said is None else said
    return web.Response(status=status, text=body, headers={"Content-Type": TEXT})


class HealthServer:
    """``async with HealthServer(core, "0.0.0.0:9464")`` serves until left; ``run`` serves
    until cancelled, as ``python -m bot`` runs it beside the platforms."""

    def __init__(
        self,
        core: Core,
        listen: str,
        *,
        database_timeout: float = DATABASE_TIMEOUT_S,
        head_timeout: float = HEAD_TIMEOUT_S,
    ) -> None:
        self._core = core
        self._listen = listen
        self._database_timeout = database_timeout
        self._head_timeout = head_timeout
        self._runner: web.ServerRunner | None = None
        self._port = 0
        self._check: asyncio.Future[bool] | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen when HEALTH_LISTEN's port is 0)."""
        return self._port

    @property
    def connections(self) -> int:
        """Connections open now."""
        server = None if self._runner is None else self._runner.server
        return 0 if server is None else len(server.connections)

    async def run(self) -> None:
        async with self:
            await asyncio.Event().wait()

    async def __aenter__(self) -> HealthServer:
        host, port = listen_address(self._listen)
        server = web.Server(
            self._serve,
            keepalive_timeout=self._head_timeout,
            lingering_time=LINGER_S,
            max_line_size=MAX_LINE_BYTES,
            max_field_size=MAX_FIELD_BYTES,
            max_headers=MAX_HEADERS,
            access_log=None,
            logger=_server_log,
        )
        runner = web.ServerRunner(server, shutdown_timeout=STOP_S)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            reason = error.strerror or type(error).__name__
            raise StartupFailed(
                f"HEALTH_LISTEN={self._listen}: cannot listen there ({reason})"
            ) from None
        self._runner, self._port = runner, site.port
        log.info("serving /healthz and /metrics on %s", self._listen)
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Ends the check in flight, so no answer waits for it, then stops listening and
        closes every open connection."""
        if self._check is not None:
            self._check.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve(self, request: web.BaseRequest) -> web.StreamResponse:
        """One answer, then the connection closes: nothing is kept for a client that lingers."""
        response = await self.answer(request.method, request.path)
        response.force_close()
        response.headers["Cache-Control"] = "no-store"
        return response

    async def answer(self, method: str, path: str) -> web.Response:
        """The answer for ``method`` on ``path``; an unexpected error is a 500, logged."""
        routes: dict[str, Callable[[], Awaitable[web.Response]]] = {
            "/healthz": self.health,
            "/metrics": self.metrics,
        }
        route = routes.get(path)
        if route is None:
            return text(HTTPStatus.NOT_FOUND)
        if method not in METHODS:
            refused = text(HTTPStatus.METHOD_NOT_ALLOWED)
            refused.headers["Allow"] = ", ".join(METHODS)
            return refused
        try:
            return await route()
        except Exception as error:
            log.warning("%s failed: %s", path, type(error).__name__, exc_info=True)
            return text(HTTPStatus.INTERNAL_SERVER_ERROR)

    async def health(self) -> web.Response:
        """200 ``ok`` when the database answers and every platform is connected; else 503
        with one line per failing part."""
        failing = [] if await self._database_answers() else ["database unavailable"]
        failing += [
            f"{name} not connected"
            for name, platform in sorted(self._core.platforms.items())
            if not platform.connected()
        ]
        if failing:
            return text(HTTPStatus.SERVICE_UNAVAILABLE, "\n".join(failing))
        return text(HTTPStatus.OK, "ok")

    async def metrics(self) -> web.Response:
        """The Prometheus text. With the database away the counters are still served (they
        show the outage), the jobs gauge at its last reading."""
        monitor = self._core.monitor
        try:
            async with asyncio.timeout(self._database_timeout):
                body = await monitor.exposition()
        except Exception as error:
            if not isinstance(error, TimeoutError) and not database_unavailable(error):
                raise
            log.debug("metrics without the jobs gauge: %s", type(error).__name__)
            body = generate_latest(monitor.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _database_answers(self) -> bool:
        """Whether ``SELECT 1`` answers in time. Probes arriving together share one check,
        so a flood of them cannot take the bot's database connections."""
        if self._check is None or self._check.done():
            self._check = asyncio.ensure_future(self._ping())
        return await asyncio.shield(self._check)

    async def _ping(self) -> bool:
        try:
            async with asyncio.timeout(self._database_timeout):
                await self._core.store.ping()
        except Exception as error:  # any failure is the database's: it did not answer
            log.debug("the database did not answer /healthz: %s", type(error).__name__)
            return False
        return True

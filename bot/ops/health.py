"""``/healthz`` and ``/metrics`` over HTTP (``HEALTH_LISTEN``): a container's probe and
Prometheus' scrape.

A small HTTP/1.1 server on asyncio streams, since the core may not import aiohttp and two
GET routes need no framework. It is built to cost little whoever calls it: one request per
connection (``Connection: close``), the request head capped in size and read under a
deadline, every connection under a deadline of its own, a cap on open connections, and one
database check at a time however many probes arrive. Nothing of a request is logged.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.errors import StartupFailed
from bot.store import database_unavailable

if TYPE_CHECKING:
    from bot.app import Core

log = logging.getLogger(__name__)

DATABASE_TIMEOUT_S = 2.0
"""How long /healthz waits for the database: under the Docker HEALTHCHECK's 3 s."""
HEAD_TIMEOUT_S = 5.0
"""How long a client may take to send its request line and headers."""
CONNECTION_TIMEOUT_S = 15.0
"""The most a connection lives, its answer included: a client that never reads is dropped."""
LINGER_S = 1.0
"""How long an answered client has to take the answer and close its side."""
MAX_HEAD_BYTES = 8192
"""The request line and headers together; a longer head is answered 431."""
MAX_HEADER_LINES = 100
MAX_CONNECTIONS = 32
"""Connections served at once; one more is closed unanswered."""
TEXT = "text/plain; charset=utf-8"
METHODS = ("GET", "HEAD")


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP response; ``head_only`` for HEAD leaves the body out but not its length."""

    status: HTTPStatus
    body: bytes = b""
    content_type: str = TEXT

    @classmethod
    def text(cls, status: HTTPStatus, text: str | None = None) -> Answer:
        return cls(status, (status.phrase.lower() if text is None else text).encode())

    def encode(self, *, head_only: bool = False) -> bytes:
        head = [
            f"HTTP/1.1 {self.status.value} {self.status.phrase}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            "Cache-Control: no-store",
            "Connection: close",
        ]
        if self.status is HTTPStatus.METHOD_NOT_ALLOWED:
            head.append("Allow: " + ", ".join(METHODS))
        return ("\r\n".join(head) + "\r\n\r\n").encode() + (b"" if head_only else self.body)


class BadRequest(Exception):
    """The request cannot be served: answered with ``status``, then the connection closes."""

    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status.phrase)
        self.status = status


class ClientGone(Exception):
    """The client closed the connection before its request was complete."""


def listen_address(listen: str) -> tuple[str, int]:
    """``0.0.0.0:9464`` or ``[::]:9464`` → (host, port); HEALTH_LISTEN is validated already."""
    host, _, port = listen.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def request_line(line: bytes) -> tuple[str, str]:
    """``GET /healthz?x HTTP/1.1`` → (``GET``, ``/healthz``); anything else is a bad request."""
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
        raise BadRequest(HTTPStatus.BAD_REQUEST)
    method, target, _ = parts
    try:
        path = urlsplit(target).path
    except ValueError:
        raise BadRequest(HTTPStatus.BAD_REQUEST) from None
    return method, path


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await reader.readline()
    except ValueError:  # longer than the reader's limit
        raise BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE) from None
    if not line.endswith(b"\n"):
        raise ClientGone
    return line


async def read_head(reader: asyncio.StreamReader) -> tuple[str, str]:
    """Reads the request line and the headers (not needed, so only counted) up to the blank
    line; the method and the path."""
    first = await _line(reader)
    size = len(first)
    for _ in range(MAX_HEADER_LINES):
        header = await _line(reader)
        size += len(header)
        if size > MAX_HEAD_BYTES:
            break
        if header in (b"\r\n", b"\n"):
            return request_line(first)
    raise BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)


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
        self._server: asyncio.Server | None = None
        self._port = 0
        self._open: set[asyncio.Task[Any]] = set()
        self._check: asyncio.Future[bool] | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen when HEALTH_LISTEN's port is 0)."""
        return self._port

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._open)

    async def run(self) -> None:
        async with self:
            await asyncio.Event().wait()

    async def __aenter__(self) -> HealthServer:
        host, port = listen_address(self._listen)
        try:
            self._server = await asyncio.start_server(
                self._connection, host, port, limit=MAX_HEAD_BYTES
            )
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise StartupFailed(
                f"HEALTH_LISTEN={self._listen}: cannot listen there ({reason})"
            ) from None
        self._port = int(self._server.sockets[0].getsockname()[1])
        log.info("serving /healthz and /metrics on %s", self._listen)
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stops listening, then ends every open connection and the check in flight."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        pending: list[asyncio.Future[Any]] = [*self._open]
        if self._check is not None:
            pending.append(self._check)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request, one answer, then the connection closes, whatever the client does."""
        task = asyncio.current_task()
        if task is None or len(self._open) >= MAX_CONNECTIONS:
            writer.transport.abort()
            return
        self._open.add(task)
        try:
            await self._exchange(reader, writer)
        except asyncio.CancelledError:  # the server stops. Not raised on: asyncio would log a
            writer.transport.abort()  # cancelled connection task as an error
        finally:
            self._open.discard(task)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(CONNECTION_TIMEOUT_S):
                head_only, answer = await self._request(reader)
                writer.write(answer.encode(head_only=head_only))
                await writer.drain()
        except ClientGone:
            pass
        except (ConnectionError, TimeoutError):  # what the client did not take is dropped
            writer.transport.abort()
            return
        await _close(reader, writer)

    async def _request(self, reader: asyncio.StreamReader) -> tuple[bool, Answer]:
        """Whether only the head is wanted (HEAD), and the answer."""
        try:
            async with asyncio.timeout(self._head_timeout):
                method, path = await read_head(reader)
        except TimeoutError:
            return False, Answer.text(HTTPStatus.REQUEST_TIMEOUT)
        except BadRequest as bad:
            return False, Answer.text(bad.status)
        return method == "HEAD", await self.answer(method, path)

    async def answer(self, method: str, path: str) -> Answer:
        """The answer for ``method`` on ``path``; an unexpected error is a 500, logged."""
        routes = {"/healthz": self.health, "/metrics": self.metrics}
        route = routes.get(path)
        if route is None:
            return Answer.text(HTTPStatus.NOT_FOUND)
        if method not in METHODS:
            return Answer.text(HTTPStatus.METHOD_NOT_ALLOWED)
        try:
            return await route()
        except Exception as error:
            log.warning("%s failed: %s", path, type(error).__name__, exc_info=True)
            return Answer.text(HTTPStatus.INTERNAL_SERVER_ERROR)

    async def health(self) -> Answer:
        """200 ``ok`` when the database answers and every platform is connected; else 503
        with one line per failing part."""
        failing = [] if await self._database_answers() else ["database unavailable"]
        failing += [
            f"{name} not connected"
            for name, platform in sorted(self._core.platforms.items())
            if not platform.connected()
        ]
        if failing:
            return Answer.text(HTTPStatus.SERVICE_UNAVAILABLE, "\n".join(failing))
        return Answer.text(HTTPStatus.OK, "ok")

    async def metrics(self) -> Answer:
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
        return Answer(HTTPStatus.OK, body, CONTENT_TYPE_LATEST)

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


async def _close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Closes after the answer went out. What the client still sends (the rest of a head
    too large, a body) is read and dropped until it closes its side, for a while: closing with
    unread bytes would reset the connection and could lose the answer on the client's side."""
    try:
        async with asyncio.timeout(LINGER_S):
            if writer.can_write_eof():
                writer.write_eof()
            while await reader.read(65536):
                pass
            writer.close()
            await writer.wait_closed()
    except (ConnectionError, TimeoutError):
        writer.transport.abort()

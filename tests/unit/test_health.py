"""/healthz and /metrics (``bot.ops.health``) against a real core: the test platform on its fake
chat service, the fake host, a real database; requests over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Core
from bot.chevereto.probe import probe_png
from bot.domain import UserRef
from bot.errors import StartupFailed
from bot.ops.health import MAX_FIELD_BYTES, MAX_HEADERS, HealthServer
from tests.conftest import KEY
from tests.support.chat_platform.settings import ChatSettings
from tests.support.fakes.chat_api import FakeChat
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.running import FAST, running
from tests.support.settings import core_settings
from tests.support.waiting import eventually

ALICE = "1001"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass(frozen=True, slots=True)
class Served:
    """A running core, its health server, and an HTTP client pointed at it."""

    core: Core
    server: HealthServer
    http: httpx.AsyncClient


@pytest.fixture
async def chat() -> AsyncIterator[FakeChat]:
    async with FakeChat() as fake:
        yield fake


@contextlib.asynccontextmanager
async def serving(
    chevereto: FakeChevereto, chat: FakeChat, data_dir: Path, database: str
) -> AsyncIterator[Served]:
    """The core with the test platform connected (a first update ends its first long poll),
    and its health server on a free port."""
    settings = core_settings(chevereto, data_dir, database)
    platform = ChatSettings(_env_file=None, url=chat.url)  # type: ignore[call-arg]
    async with running(settings, platform, tuning=FAST) as core:
        alice = chat.user(ALICE)
        chat.post(alice, chat.private(alice), "/help")
        await eventually(core.platforms["testchat"].connected)
        async with HealthServer(core, "127.0.0.1:0", head_timeout=0.2) as server:
            base = f"http://127.0.0.1:{server.port}"
            async with httpx.AsyncClient(base_url=base, timeout=5) as http:
                yield Served(core, server, http)


@pytest.fixture
async def served(chevereto, chat, tmp_path, database) -> AsyncIterator[Served]:
    """On SQLite and on PostgreSQL."""
    async with serving(chevereto, chat, tmp_path / "data", database) as served:
        yield served


@pytest.fixture
async def on_sqlite(chevereto, chat, tmp_path, migrated) -> AsyncIterator[Served]:
    """On SQLite alone, for what does not depend on the database."""
    path = tmp_path / "bot.sqlite3"
    shutil.copyfile(migrated["sqlite"], path)
    async with serving(chevereto, chat, tmp_path / "data", f"sqlite+aiosqlite:///{path}") as s:
        yield s


@pytest.fixture
async def on_postgres(
    chevereto, chat, tmp_path, postgres_database
) -> AsyncIterator[tuple[Served, str]]:
    """On a PostgreSQL database of its own, and that database's name."""
    async with serving(chevereto, chat, tmp_path / "data", postgres_database) as served:
        yield served, postgres_database.rsplit("/", 1)[1]


async def exchange(server: HealthServer, data: bytes, *, eof: bool = False) -> bytes:
    """Sends ``data`` on a raw connection (then closes its side, with ``eof``) and reads
    until the server closes it; a reset reads as nothing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(data)
        if eof:
            writer.write_eof()
        await writer.drain()
        async with asyncio.timeout(5):
            return await reader.read()
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


async def samples(http: httpx.AsyncClient) -> Samples:
    """Every sample of /metrics, parsed as Prometheus text, by name and labels."""
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def answers(http: httpx.AsyncClient, status: int, text: str) -> bool:
    response = await http.get("/healthz")
    return (response.status_code, response.text) == (status, text)


async def settled(core: Core) -> None:
    async def no_jobs() -> bool:
        return await core.store.jobs.waiting_of("testchat", ALICE) == 0

    await eventually(no_jobs, within=15)


async def test_healthz_is_ok_with_the_database_and_every_platform_up(served):
    """200 ``ok`` for GET, never cached, one request per connection; HEAD has the same head
    and no body."""
    response = await served.http.get("/healthz")
    head = await served.http.head("/healthz")
    assert (response.status_code, response.text) == (200, "ok")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["connection"] == "close"
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "2")


async def test_healthz_names_a_platform_that_is_not_connected(on_sqlite, chat):
    """The chat service goes away: 503 with one line, ``testchat not connected``."""
    await chat.stop()
    await eventually(lambda: answers(on_sqlite.http, 503, "testchat not connected"))


async def test_healthz_names_the_database_while_it_refuses_connections(on_postgres):
    """PostgreSQL refuses the bot's database and cuts its connections: 503 ``database
    unavailable``; once it accepts them again, 200. (The server keeps running for the others
    using it; tests/system/test_health.py stops it.)"""
    served, name = on_postgres
    assert POSTGRES_URL is not None
    admin = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await eventually(lambda: answers(served.http, 503, "database unavailable"))
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        await eventually(lambda: answers(served.http, 200, "ok"))
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        await admin.close()


async def test_metrics_count_an_upload(served, chat):
    """While a job's download is held it counts as waiting; once uploaded and answered, it
    does not, and uploads_total{uploaded}, its bytes and one upload_seconds observation show."""
    await served.core.store.keys.link(UserRef("testchat", ALICE), KEY)
    release = chat.hold_next("/files/")
    photo = probe_png()
    alice = chat.user(ALICE)
    chat.post(alice, chat.private(alice), files=[("photo.png", "image/png", photo)])

    async def waiting(count: int) -> bool:
        return value(await samples(served.http), "chevereto_bot_jobs_waiting") == count

    await eventually(lambda: waiting(1))
    release.set()
    await chat.wait_for(lambda m: "/image/" in m.text)
    await eventually(lambda: waiting(0))
    found = await samples(served.http)
    assert value(found, "chevereto_bot_uploads_total", platform="testchat", outcome="uploaded") == 1
    assert value(found, "chevereto_bot_upload_bytes_total", platform="testchat") == len(photo)
    assert value(found, "chevereto_bot_upload_seconds_count") == 1


async def test_metrics_count_a_host_failure(served, chat, chevereto: FakeChevereto):
    """The host answers a 503 page to every try: host_errors_total{page} moves, and the file
    counts once as failed."""
    await served.core.store.keys.link(UserRef("testchat", ALICE), KEY)
    before = await samples(served.http)
    chevereto.fail_next(503, times=100)
    alice = chat.user(ALICE)
    chat.post(alice, chat.private(alice), files=[("photo.png", "image/png", probe_png())])

    async def host_errors() -> float:
        found = await samples(served.http)
        return value(found, "chevereto_bot_host_errors_total", kind="page")

    await eventually(host_errors)  # the job is stored and tried
    await settled(served.core)
    found = await samples(served.http)
    assert value(before, "chevereto_bot_host_errors_total", kind="page") == 0
    assert value(found, "chevereto_bot_uploads_total", platform="testchat", outcome="failed") == 1


async def test_other_paths_are_404_and_other_methods_405(on_sqlite):
    """Only /healthz and /metrics exist, and only for GET and HEAD; a query is ignored."""
    http = on_sqlite.http
    assert (await http.get("/")).status_code == 404
    assert (await http.get("/healthz/x")).status_code == 404
    refused = await http.post("/healthz", content=b"x")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"
    assert (await http.get("/healthz?verbose=1")).status_code == 200
    assert (await http.head("/metrics")).status_code == 200


TLS_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)) + b"\n\n"
HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
"""A request head, all but the blank line that ends it."""
JUNK = [
    (TLS_HELLO, False, 400),
    (b"GET\r\n\r\n", False, 400),
    (b"GET /healthz HTTP/1.1 extra\r\n\r\n", False, 400),
    (b"GET /healthz HTTP/1.1\r\n\r\n", False, 400),  # HTTP/1.1 without Host
    (b"GET /healthz HTTP/1.0\n\n", False, 400),  # bare LFs
    (HEAD + b"X: " + b"a" * (MAX_FIELD_BYTES + 1) + b"\r\n\r\n", False, 400),
    (HEAD + b"X: y\r\n" * (MAX_HEADERS + 1) + b"\r\n", False, 400),
    (b"GET /" + b"a" * 100_000, False, 400),
    (HEAD, False, None),  # stalls
    (b"", False, None),  # says nothing
    (b"GET /heal", True, None),  # closes its side mid-request
]


def status_of(said: bytes) -> int | None:
    """The status of an HTTP answer, or None for a connection closed unanswered."""
    return int(said.split(b" ", 2)[1]) if said else None


async def test_junk_gets_an_answer_or_a_closed_connection(on_sqlite):
    """Junk, oversize, stalled or cut requests are answered 400 or the connection is closed
    unanswered; the server never stops: /healthz answers after each."""
    for request, eof, status in JUNK:
        assert status_of(await exchange(on_sqlite.server, request, eof=eof)) == status, request
        assert await answers(on_sqlite.http, 200, "ok")


async def test_junk_is_not_logged(on_sqlite, caplog):
    """What a malformed request makes aiohttp report is not logged, even at DEBUG."""
    caplog.set_level(logging.DEBUG)
    for request, eof, _ in JUNK[:3]:
        await exchange(on_sqlite.server, request, eof=eof)
    assert [r.getMessage() for r in caplog.records if r.name.startswith(("bot", "aiohttp"))] == []


async def test_idle_and_half_sent_connections_do_not_delay_healthz(on_sqlite):
    """With many connections open that send nothing or half a head, a GET /healthz on
    another is answered while every one of them is still open."""
    core = on_sqlite.core
    async with HealthServer(core, "127.0.0.1:0", head_timeout=60) as server:
        held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(50)]
        for _, writer in held[::2]:
            writer.write(HEAD)
            await writer.drain()
        await eventually(lambda: server.connections == len(held))
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.get(f"http://127.0.0.1:{server.port}/healthz")
        assert (response.status_code, response.text) == (200, "ok")
        assert not [reader for reader, _ in held if reader.at_eof()]
        for _, writer in held:
            writer.close()


async def trickle(writer: asyncio.StreamWriter) -> None:
    """Sends a request head a byte at a time, never ending it, until the server closes."""
    with contextlib.suppress(ConnectionError):
        for byte in HEAD * 1000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.02)


async def test_idle_half_sent_and_trickling_connections_are_closed(on_sqlite):
    """A connection that sends nothing, half a head, or a head a byte at a time is closed
    by the server unanswered once its head deadline passes (0.2 s here)."""
    port = on_sqlite.server.port
    idle, half, slow = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    half[1].write(HEAD)
    trickling = asyncio.create_task(trickle(slow[1]))
    try:
        for reader, _ in (idle, half, slow):
            async with asyncio.timeout(10):  # generous: the deadline is 0.2 s
                with contextlib.suppress(ConnectionResetError):
                    assert await reader.read() == b""
    finally:
        trickling.cancel()
        for _, writer in (idle, half, slow):
            writer.close()
    await eventually(lambda: on_sqlite.server.connections == 0)


async def test_leaving_closes_open_connections_and_a_taken_port_names_health_listen(on_sqlite):
    """A second server on the same port fails to start, naming HEALTH_LISTEN; a server that
    stops closes a connection still sending its request, and listens no more."""
    core, port = on_sqlite.core, on_sqlite.server.port
    with pytest.raises(StartupFailed, match=rf"HEALTH_LISTEN=127\.0\.0\.1:{port}: cannot listen"):
        async with HealthServer(core, f"127.0.0.1:{port}"):
            pass
    async with HealthServer(core, "127.0.0.1:0") as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        await eventually(lambda: server.connections == 1)
    async with asyncio.timeout(1):
        with contextlib.suppress(ConnectionResetError):
            assert await reader.read() == b""
    writer.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", server.port)

"""Shared fixtures: a real database (SQLite, and PostgreSQL when CI provides one), the fake host,
and the core built on them."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from bot.chevereto import CheveretoClient
from bot.commands import Commands, Context
from bot.crypto import Vault
from bot.domain import (
    ChatKind,
    ChatRef,
    IncomingMedia,
    MediaKind,
    Platform,
    UploadOptions,
    UserRef,
)
from bot.jobs import JobRunner
from bot.probe import probe_png
from bot.store import Store
from bot.upload import UploadService
from tests.support.fakes.chevereto import FakeChevereto

KEY = "chv_1_" + "k" * 128
ADMIN_KEY = "chv_2_" + "a" * 128
OTHER_KEY = "chv_3_" + "o" * 128
SECRET = "test-secret-key"

ALICE = UserRef(Platform.TELEGRAM, "1001")
BOB = UserRef(Platform.TELEGRAM, "1002")
PRIVATE = ChatRef(Platform.TELEGRAM, "1001", ChatKind.PRIVATE)
GROUP = ChatRef(Platform.TELEGRAM, "-100500", ChatKind.GROUP)

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that use a database run on SQLite, and on PostgreSQL whenever CI started one."""
    if "database" in metafunc.fixturenames:
        kinds = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]
        metafunc.parametrize("database", kinds, indirect=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI") and not POSTGRES_URL:
        raise pytest.UsageError(
            "CI must run the store tests on PostgreSQL: TEST_POSTGRES_URL is unset"
        )


async def _admin_connection() -> asyncpg.Connection:
    assert POSTGRES_URL is not None
    return await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))


@pytest.fixture
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A SQLAlchemy URL of an empty database of the requested kind, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
        return
    assert POSTGRES_URL is not None
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = await _admin_connection()
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    store = Store(database, Vault(SECRET))
    await store.migrate()
    yield store
    await store.close()


@pytest.fixture
async def chevereto() -> AsyncIterator[FakeChevereto]:
    async with FakeChevereto() as fake:
        fake.add_key(KEY, user="alice")
        fake.add_key(ADMIN_KEY, admin=True, user="admin")  # a site admin: no duplicate check
        fake.add_key(OTHER_KEY, user="bob")
        yield fake


@pytest.fixture
async def client(chevereto: FakeChevereto) -> AsyncIterator[CheveretoClient]:
    async with CheveretoClient(chevereto.url, timeout=3.0, tries=3, backoff=0.01) as client:
        yield client


@pytest.fixture
def temp_dir(tmp_path: Path) -> Path:
    return tmp_path / "tmp"


@pytest.fixture
def service(client: CheveretoClient, store: Store, temp_dir: Path) -> UploadService:
    limits = {Platform.TELEGRAM: 20, Platform.DISCORD: 50}
    return UploadService(client, store, limits_mb=limits, temp_dir=temp_dir, concurrency=4)


@pytest.fixture
def commands(store: Store, client: CheveretoClient, chevereto: FakeChevereto) -> Commands:
    return Commands(store, client, site=chevereto.url, default_key=None)


@pytest.fixture
def runner(store: Store, service: UploadService) -> JobRunner:
    return JobRunner(store, service, retry_delays=(0.05, 0.05), poll_s=0.05)


def ctx(user: UserRef = ALICE, chat: ChatRef = PRIVATE, **kwargs: object) -> Context:
    return Context(user, chat, "en", **kwargs)  # type: ignore[arg-type]


def writer(data: bytes) -> Callable[[Path], Awaitable[None]]:
    async def fetch(path: Path) -> None:
        await asyncio.to_thread(path.write_bytes, data)

    return fetch


def media(
    data: bytes | None = None,
    *,
    user: UserRef = ALICE,
    chat: ChatRef = PRIVATE,
    kind: MediaKind | None = MediaKind.IMAGE,
    size: int | None = None,
    filename: str = "photo.png",
    content_type: str | None = "image/png",
    caption: str | None = None,
    options: UploadOptions | None = None,
    fetch: Callable[[Path], Awaitable[None]] | None = None,
) -> IncomingMedia:
    """An IncomingMedia whose fetch writes ``data`` (a unique PNG by default)."""
    body = probe_png() if data is None else data
    return IncomingMedia(
        user,
        chat,
        kind,
        filename,
        content_type,
        len(body) if size is None else size,
        fetch or writer(body),
        caption,
        options or UploadOptions(),
    )


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

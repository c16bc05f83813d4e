"""Shared fixtures: a real database (SQLite, and PostgreSQL when CI provides one), the fake host,
and the core built on them."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.chevereto import CheveretoClient
from bot.chevereto.probe import probe_png
from bot.commands import Commands, Context
from bot.crypto import Vault
from bot.domain import ChatKind, ChatRef, MediaKind, UploadOptions, UploadRecord, UserRef
from bot.jobs.lanes import Lanes
from bot.jobs.runner import JobRunner
from bot.ops.monitor import Monitor
from bot.payloads import Fetch, FileRef, IncomingMedia
from bot.platform import PlatformTexts
from bot.store import Store
from bot.texts import register
from bot.tuning import Tuning
from bot.upload.outcomes import Failed, Uploaded
from bot.upload.service import UploadService
from tests.support import leaks
from tests.support.fakes.chevereto import FakeChevereto

KEY = "chv_1_" + "k" * 128
ADMIN_KEY = "chv_2_" + "a" * 128
OTHER_KEY = "chv_3_" + "o" * 128
SECRET = "test-secret-key"

ALICE = UserRef("telegram", "1001")
BOB = UserRef("telegram", "1002")
PRIVATE = ChatRef("telegram", "1001", ChatKind.PRIVATE)
GROUP = ChatRef("telegram", "-100500", ChatKind.GROUP)

LIMITS_MB = {"telegram": 20, "discord": 50}
"""The core's unit tests stand in for two platforms with their real size limits."""
TEXTS = PlatformTexts(upload_help="tests.help.upload", mirror_needs="tests.mirror.needs")
register(
    {
        "en": {
            TEXTS.upload_help: "/upload — upload the media you reply to",
            TEXTS.mirror_needs: "I must see every message here.",
        },
        "zh": {
            TEXTS.upload_help: "/upload — 上传你回复的媒体",
            TEXTS.mirror_needs: "我需要能看到这里的所有消息。",
        },
    }
)

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that use a database run on SQLite, and on PostgreSQL whenever CI started one;
    those marked ``postgres_only`` on PostgreSQL alone."""
    if "database" in metafunc.fixturenames:
        if metafunc.definition.get_closest_marker("postgres_only") is not None:
            kinds = ["postgres"]
        else:
            kinds = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]
        metafunc.parametrize("database", kinds, indirect=True)


def _needs_postgres(item: pytest.Item) -> bool:
    uses = getattr(item, "fixturenames", ())
    return item.get_closest_marker("postgres_only") is not None or "postgres_database" in uses


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL (a developer's quick loop), the tests of PostgreSQL itself are left
    out, not skipped; CI always has one (``pytest_sessionstart`` insists)."""
    if POSTGRES_URL is not None:
        return
    left_out = [item for item in items if _needs_postgres(item)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not _needs_postgres(item)]


_PROCESSES = {"allowed": True}
_START_PROCESS = subprocess.Popen._execute_child  # type: ignore[attr-defined]


def _start_process_when_slow(self: subprocess.Popen[bytes], *args: object) -> object:
    if not _PROCESSES["allowed"]:
        raise AssertionError("this test starts a process: mark it @pytest.mark.slow")
    return _START_PROCESS(self, *args)


def pytest_configure(config: pytest.Config) -> None:
    """The fast loop (``-m "not slow"``) starts no process: a test that does must say ``slow``
    (its fixtures included, whatever their scope). Every process logs for the leak scan."""
    subprocess.Popen._execute_child = _start_process_when_slow  # type: ignore[attr-defined]
    leaks.configure(config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    leaks.finish(session)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    _PROCESSES["allowed"] = item.get_closest_marker("slow") is not None
    yield
    _PROCESSES["allowed"] = True


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI") and not POSTGRES_URL:
        raise pytest.UsageError(
            "CI must run the store tests on PostgreSQL: TEST_POSTGRES_URL is unset"
        )


async def _admin_connection() -> asyncpg.Connection:
    assert POSTGRES_URL is not None
    return await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))


async def _migrate(url: str) -> None:
    store = Store(url, Vault(SECRET))
    await store.migrate()
    await store.close()


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Databases at the newest schema, made once: each test's database is a copy (migrating
    a new database for every test would cost the fast loop about ten seconds)."""
    sqlite = tmp_path_factory.mktemp("template") / "bot.sqlite3"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{sqlite}"))
    templates = {"sqlite": str(sqlite)}
    if POSTGRES_URL is not None:
        templates["postgres"] = f"template_{uuid.uuid4().hex[:16]}"
        asyncio.run(_create_database(templates["postgres"]))
        asyncio.run(_migrate(POSTGRES_URL.rsplit("/", 1)[0] + f"/{templates['postgres']}"))
    yield templates
    if "postgres" in templates:
        asyncio.run(_drop_database(templates["postgres"]))


async def _create_database(name: str, template: str | None = None) -> None:
    admin = await _admin_connection()
    try:
        copy = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await admin.close()


async def _drop_database(name: str) -> None:
    admin = await _admin_connection()
    try:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database(
    request: pytest.FixtureRequest, tmp_path: Path, migrated: dict[str, str]
) -> AsyncIterator[str]:
    """A SQLAlchemy URL of a database of the requested kind at the newest schema, holding no
    rows; dropped afterwards."""
    if request.param == "sqlite":
        path = tmp_path / "bot.sqlite3"
        shutil.copyfile(migrated["sqlite"], path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    assert POSTGRES_URL is not None
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = await _admin_connection()
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated["postgres"]}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def postgres_database(migrated: dict[str, str]) -> AsyncIterator[str]:
    """A PostgreSQL database of its own at the newest schema, for tests of PostgreSQL itself
    (replicas, locks, restarts); dropped afterwards."""
    assert POSTGRES_URL is not None
    name = f"test_{uuid.uuid4().hex[:16]}"
    await _create_database(name, migrated["postgres"])
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await _drop_database(name)


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


def upload_service(
    client: CheveretoClient, store: Store, temp_dir: Path, **extra: Any
) -> UploadService:
    """The service on the fake host with the two platforms' limits; ``extra`` sets more."""
    return UploadService(
        client,
        store,
        limit_mb=LIMITS_MB.__getitem__,
        temp_dir=temp_dir,
        lanes=Lanes.of(4, 4, 2),
        monitor=Monitor(store),
        **extra,
    )


@pytest.fixture
def service(client: CheveretoClient, store: Store, temp_dir: Path) -> UploadService:
    return upload_service(client, store, temp_dir)


def texts(platform: str) -> PlatformTexts:
    del platform
    return TEXTS


@pytest.fixture
def commands(store: Store, client: CheveretoClient, chevereto: FakeChevereto) -> Commands:
    return Commands(store, client, site=chevereto.url, default_key=None, texts=texts)


@pytest.fixture
def runner(store: Store, service: UploadService) -> JobRunner:
    tuning = Tuning(retry_delays=(0.05, 0.05), poll_s=0.05, album_window=timedelta(seconds=0.5))
    return JobRunner(store, service, tuning)


def ctx(user: UserRef = ALICE, chat: ChatRef = PRIVATE, **kwargs: object) -> Context:
    return Context(user, chat, "en", **kwargs)  # type: ignore[arg-type]


def chunks_of(data: bytes, size: int = 64 * 1024) -> Fetch:
    """A fetch that hands ``data`` over in chunks, as a platform's download would."""

    async def fetch() -> AsyncIterator[bytes]:
        for start in range(0, len(data), size):
            yield data[start : start + size]

    return fetch


def media(
    data: bytes | None = None,
    *,
    user: UserRef = ALICE,
    chat: ChatRef = PRIVATE,
    kind: MediaKind | None = MediaKind.IMAGE,
    size: int | None = None,
    filename: str = "photo.png",
    content_type: str | None = None,
    caption: str | None = None,
    options: UploadOptions | None = None,
    fetch: Fetch | None = None,
) -> IncomingMedia:
    """An IncomingMedia whose fetch hands over ``data`` (a unique PNG by default); its type is
    ``content_type``, else one of ``kind``."""
    body = probe_png() if data is None else data
    if content_type is None and kind is not None:
        content_type = "image/png" if kind is MediaKind.IMAGE else "video/mp4"
    file = FileRef(filename, content_type, len(body) if size is None else size, filename)
    return IncomingMedia(
        user, chat, file, fetch or chunks_of(body), caption, options or UploadOptions()
    )


def failed_with(outcome: object, kind: type[Exception]) -> Failed:
    """A failed outcome, whose error must be of ``kind``."""
    assert isinstance(outcome, Failed), outcome
    assert isinstance(outcome.error, kind), outcome.error
    return outcome


async def recorded(service: UploadService, store: Store, item: IncomingMedia) -> UploadRecord:
    """Uploads ``item`` and keeps it in the history, as a job's owner does: its record."""
    outcome = await service.upload(item)
    assert isinstance(outcome, Uploaded), outcome
    return await store.uploads.record(item.user, item.chat, outcome.filename, outcome.image)


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

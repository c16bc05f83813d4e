"""Fault campaign, the database: PostgreSQL restarted while jobs run.

It needs a PostgreSQL it may restart: TEST_POSTGRES_URL, and TEST_POSTGRES_CTL (a pg_ctl
wrapper, see .ci/run; locally /tmp/devpg/pgctl is used when it exists). In CI both are
required and their absence fails the run; elsewhere, without TEST_POSTGRES_URL, this module
collects nothing.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from bot.chevereto.probe import probe_png
from bot.domain import UserRef
from tests.conftest import KEY
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.fault_harness import final_texts, running_telegram, telegram_settings
from tests.support.jobs import unfinished_jobs
from tests.support.running import FAST
from tests.support.waiting import eventually

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
LOCAL_CTL = Path("/tmp/devpg/pgctl")  # noqa: S108 - the local development cluster's wrapper
PG_CTL = os.environ.get("TEST_POSTGRES_CTL") or (str(LOCAL_CTL) if LOCAL_CTL.exists() else None)

if os.environ.get("CI") and not (POSTGRES_URL and os.environ.get("TEST_POSTGRES_CTL")):
    raise RuntimeError(
        "CI must run the PostgreSQL fault tests: set TEST_POSTGRES_URL and TEST_POSTGRES_CTL"
    )
if POSTGRES_URL and PG_CTL is None:
    raise RuntimeError("TEST_POSTGRES_URL is set but no TEST_POSTGRES_CTL to restart it with")

__test__ = POSTGRES_URL is not None  # without PostgreSQL, nothing here is collected
pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # restarts PostgreSQL with pg_ctl

USERS = [UserRef("telegram", str(4000 + n)) for n in range(4)]


async def _admin() -> asyncpg.Connection:
    assert POSTGRES_URL is not None
    return await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))


async def _until_accepting(within: float = 30) -> None:
    async with asyncio.timeout(within):
        while True:
            try:
                connection = await _admin()
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(0.1)
                continue
            await connection.close()
            return


async def restart_postgres() -> None:
    """``pg_ctl restart`` (fast mode: every connection is cut), then waits until it serves."""
    assert PG_CTL is not None
    process = await asyncio.create_subprocess_exec(
        PG_CTL,
        "restart",
        "-m",
        "fast",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    await _until_accepting()


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    """A fresh database, dropped afterwards over a new connection (the old ones die with the
    restart)."""
    assert POSTGRES_URL is not None
    name = f"test_faults_{uuid.uuid4().hex[:12]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await _until_accepting()
        admin = await _admin()
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def telegram():
    async with FakeTelegram() as fake:
        yield fake


def post_photos(telegram: FakeTelegram, count: int) -> None:
    """``count`` photos, spread over the users, each in its sender's private chat."""
    for n in range(count):
        user = telegram.user(int(USERS[n % len(USERS)].id))
        ref = telegram.add_file(probe_png(), mime_type="image/png")
        telegram.push_update(telegram.message_update(telegram.private_chat(user), user, photo=ref))


def answers(telegram: FakeTelegram) -> Counter[str]:
    """How often each kind of answer reached each user: a private chat's whole answer (links,
    then the delete link), links alone, a delete link alone, others."""
    seen: Counter[str] = Counter()
    for user in USERS:
        for text in final_texts(telegram, int(user.id)):
            lines = text.splitlines()
            links = any("/image/" in line and "/delete/" not in line for line in lines)
            delete = any("/delete/" in line for line in lines)
            kinds = {(True, True): "answer", (True, False): "public", (False, True): "secret"}
            seen[kinds.get((links, delete), text)] += 1
    return seen


async def test_a_restart_during_uploads_loses_and_repeats_nothing(
    telegram: FakeTelegram, chevereto: FakeChevereto, tmp_path: Path, pg_database: str
) -> None:
    """PostgreSQL restarts while eight uploads are at the host: each recorded and answered once.
    The host takes 5 s over each, so the restart is over first even on a loaded machine."""
    chevereto.delay = 5.0
    settings = telegram_settings(
        telegram, chevereto.url, tmp_path / "data", pg_database, upload_concurrency=8
    )
    async with running_telegram(settings, replace(FAST, host_timeout=10)) as core:
        for user in USERS:
            await core.store.keys.link(user, KEY)
        post_photos(telegram, 8)
        await eventually(lambda: len(chevereto.upload_requests) == 8)
        await restart_postgres()
        assert chevereto.images == {}  # the restart was over before any upload was
        await eventually(lambda: answers(telegram)["answer"] == 8, within=30)
        await eventually(lambda: no_unfinished_jobs(core), within=30)
    assert answers(telegram) == {"answer": 8}
    assert len(chevereto.images) == 8
    assert len(chevereto.upload_requests) == 8


async def test_a_restart_amid_a_stream_of_jobs_loses_and_repeats_nothing(
    telegram: FakeTelegram, chevereto: FakeChevereto, tmp_path: Path, pg_database: str
) -> None:
    """PostgreSQL restarts while forty photos stream through: each is answered once."""
    chevereto.delay = 0.05
    settings = telegram_settings(telegram, chevereto.url, tmp_path / "data", pg_database)
    async with running_telegram(settings, replace(FAST, host_timeout=10)) as core:
        for user in USERS:
            await core.store.keys.link(user, KEY)
        post_photos(telegram, 40)
        await eventually(lambda: len(chevereto.images) >= 10, within=30)
        await restart_postgres()
        await eventually(lambda: answers(telegram)["answer"] >= 40, within=60)
        await eventually(lambda: no_unfinished_jobs(core), within=30)
        await asyncio.sleep(0.5)
    assert answers(telegram) == {"answer": 40}
    assert len(chevereto.images) == 40


async def no_unfinished_jobs(core) -> bool:
    return await unfinished_jobs(core.store) == 0

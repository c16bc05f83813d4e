"""A backfill across processes: ``python -m bot`` SIGKILLed in the middle and started again
finishes it with no file uploaded twice; on PostgreSQL, two replicas run it one at a time and
the second goes on where the first stopped."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.chevereto.probe import probe_png
from bot.crypto import Vault
from bot.domain import UserRef
from bot.store import Store
from tests.conftest import KEY
from tests.support.discord_harness import (
    OWNER_ID,
    TOKEN,
    Harness,
    fake_fixture,  # noqa: F401 - a fixture
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord, RecordedRequest
from tests.support.scale_out import Replica, until

JSON = dict[str, Any]
GUILD = 1_300_000_000_000_000_000
TEXT = 1_300_000_000_000_000_001
SECRET_KEY = "backfill-processes-secret"
FILES = 30
SINCE = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
WORKING = re.compile(r"backfill (\d+) of channel \d+: working")


def seed(fake: FakeDiscord) -> list[JSON]:
    """The guild, and FILES past messages in #art, one unique image each."""
    owner = fake.user(OWNER_ID, name="owner")
    fake.add_guild(
        GUILD, owner_id=OWNER_ID, channels=[{"id": TEXT, "name": "art"}], members=[owner]
    )
    return fake.seed_history(
        TEXT,
        owner,
        FILES,
        since=SINCE,
        attachments=lambda n: [
            fake.add_attachment(probe_png(), filename=f"p{n}.png", content_type="image/png")
        ],
    )


async def link_owner_key(database: str) -> None:
    store = Store(database, Vault(SECRET_KEY))
    try:
        await store.migrate()
        await store.keys.link(UserRef("discord", str(OWNER_ID)), KEY)
    finally:
        await store.close()


def env_for(fake: FakeDiscord, chevereto: FakeChevereto, **extra: str) -> dict[str, str]:
    return {
        "CHEVERETO_URL": chevereto.url,
        "SECRET_KEY": SECRET_KEY,
        "DISCORD_BOT_TOKEN": TOKEN,
        "DISCORD_API_URL": fake.api_url,
        **extra,
    }


async def start_backfill(fake: FakeDiscord, chevereto: FakeChevereto) -> None:
    harness = Harness(fake, chevereto, None, None)  # type: ignore[arg-type]
    sub = {"name": "start", "type": 1, "options": []}
    payload = await harness.slash(
        "backfill", sub, user_id=OWNER_ID, channel_id=TEXT, guild_id=GUILD
    )
    await harness.answer_of(payload, "Backfill started", timeout=20)


def csv_rows(fake: FakeDiscord) -> list[dict[str, str]] | None:
    """The rows of the CSV sent to the owner, once it was."""
    sent = [r for r in fake.requests if r.method == "POST" and r.files]
    if not sent:
        return None
    return _rows(sent[-1])


def _rows(request: RecordedRequest) -> list[dict[str, str]]:
    (file,) = request.files
    return list(csv.DictReader(io.StringIO(file.data.decode("utf-8").removeprefix("\ufeff"))))


def check_each_file_hosted_once(chevereto: FakeChevereto, rows: list[dict[str, str]]) -> None:
    stored = Counter(image.md5 for image in chevereto.images.values())
    assert len(stored) == FILES
    assert set(stored.values()) == {1}
    assert sorted(r["filename"] for r in rows) == sorted(f"p{n}.png" for n in range(FILES))
    assert {r["outcome"] for r in rows} <= {"uploaded", "duplicate", "already-rehosted"}


@contextlib.asynccontextmanager
async def replica(
    name: str, env: dict[str, str], folder: Path, fake: FakeDiscord, identified: int
) -> AsyncIterator[Replica]:
    """A replica, once it identified on the gateway (``identified`` identifies in all)."""
    async with Replica(name, env, folder) as process:
        await until(
            lambda: len(fake.identifies) >= identified,
            [process],
            within=30,
            what=f"{name} identifies",
        )
        yield process


@pytest.mark.slow
async def test_a_sigkill_in_the_middle_and_a_restart_finish_it_with_no_file_twice(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """SIGKILL once a third of the files are up; the next process goes on from the cursor:
    the CSV lists every file once and the host holds each file once."""
    messages = seed(fake)
    chevereto.delay = 0.2
    (tmp_path / "bot").mkdir()
    await link_owner_key(f"sqlite+aiosqlite:///{tmp_path / 'bot' / 'bot.sqlite3'}")
    env = env_for(fake, chevereto)
    async with replica("bot", env, tmp_path, fake, 1) as first:
        await start_backfill(fake, chevereto)
        await until(lambda: len(chevereto.images) >= FILES // 3, [first], within=30, what="a third")
        assert first.process is not None
        first.process.kill()
        await first.process.wait()
    assert csv_rows(fake) is None
    killed_at = len(fake.requests)
    async with replica("bot", env, tmp_path, fake, 2) as second:
        await until(lambda: csv_rows(fake) is not None, [second], within=60, what="the CSV")
        assert await second.stop() == 0
    rows = csv_rows(fake)
    assert rows is not None
    check_each_file_hosted_once(chevereto, rows)
    assert "Traceback" not in second.log
    # The second process read on from the cursor, not from the channel's start.
    (read, *_) = [r for r in fake.requests[killed_at:] if r.path == f"/channels/{TEXT}/messages"]
    assert int(read.query["after"]) >= int(messages[FILES // 3 - 3]["id"])


@pytest.mark.slow
@pytest.mark.parametrize("fake", [{"shard_count": 2}], indirect=True)
async def test_two_replicas_on_postgresql_run_it_one_at_a_time(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path, postgres_database: str
) -> None:
    """Replica a takes the command and the backfill; b, started meanwhile, leaves it to a. a
    stops (SIGTERM) in the middle and hands it back: b goes on from the cursor to the end.
    One runner at a time, every file on the host once."""
    seed(fake)
    chevereto.delay = 0.3
    await link_owner_key(postgres_database)
    env = env_for(fake, chevereto, DATABASE_URL=postgres_database, DISCORD_SHARD_COUNT="2")
    shard = f"{(GUILD >> 22) % 2}"
    other = f"{1 - int(shard)}"
    async with replica("a", {**env, "DISCORD_SHARD_IDS": shard}, tmp_path, fake, 1) as a:
        await start_backfill(fake, chevereto)
        await until(lambda: WORKING.search(a.log) is not None, [a], within=20, what="a works")
        async with replica("b", {**env, "DISCORD_SHARD_IDS": other}, tmp_path, fake, 2) as b:
            await until(
                lambda: len(chevereto.images) >= FILES // 3, [a, b], within=30, what="a third"
            )
            assert WORKING.search(b.log) is None
            assert await a.stop() == 0
            handed_over = len(chevereto.images)
            assert handed_over < FILES
            await until(lambda: csv_rows(fake) is not None, [b], within=60, what="the CSV")
            assert await b.stop() == 0
    rows = csv_rows(fake)
    assert rows is not None
    check_each_file_hosted_once(chevereto, rows)
    assert WORKING.search(b.log) is not None
    assert "Traceback" not in a.log + b.log

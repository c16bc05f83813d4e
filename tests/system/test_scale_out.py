"""Scale-out: several `python -m bot` processes sharing the work of one bot.

Telegram: two replicas in webhook mode behind one address share one PostgreSQL,
so any replica may receive any update and run any job. Discord: two processes
split the gateway shards, so each receives only its own guilds' events.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.chevereto.probe import probe_png
from tests.conftest import KEY
from tests.support.discord_harness import (
    CHANNEL,
    CHANNEL_B,
    TOKEN,
    Harness,
    fake_fixture,  # noqa: F401 - a fixture
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord
from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram
from tests.support.process import run_bot
from tests.support.scale_out import ROOT, Replica, RoundRobinProxy, free_ports, until

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
WEBHOOK_SECRET = "scale-out-webhook-secret"
SHARED_SECRET_KEY = "scale-out-secret-key"  # one for all replicas: each opens what another sealed
USERS = 20
UPDATES_PER_USER = 10  # under the limit of 20 waiting uploads per user
ALBUMS = 5  # the first ALBUMS users each send one album of ALBUM_SIZE photos
ALBUM_SIZE = 4


@dataclass(frozen=True, slots=True, eq=False)
class Unit:
    """What deserves one answer: one photo, or an album's photos, as the updates that carry it."""

    updates: tuple[dict[str, Any], ...]
    md5s: tuple[str, ...]

    @property
    def chat_id(self) -> int:
        return int(self.updates[0]["message"]["chat"]["id"])

    @property
    def message_ids(self) -> tuple[int, ...]:
        return tuple(update["message"]["message_id"] for update in self.updates)

    @property
    def update_ids(self) -> tuple[int, ...]:
        """Set once the update is pushed (or POSTed)."""
        return tuple(update["update_id"] for update in self.updates)


def _photos(telegram: FakeTelegram, user: dict[str, Any], size: int, album: str | None) -> Unit:
    """One photo, or an album of ``size`` photos, from ``user`` in its private chat."""
    chat = telegram.private_chat(user)
    updates, md5s = [], []
    for _ in range(size):
        data = probe_png()
        photo = telegram.add_file(data, mime_type="image/png")
        updates.append(telegram.message_update(chat, user, photo=photo, media_group_id=album))
        md5s.append(hashlib.md5(data, usedforsecurity=False).hexdigest())
    return Unit(tuple(updates), tuple(md5s))


def _push_updates(telegram: FakeTelegram) -> list[Unit]:
    """200 photo updates from 20 users, taking turns; 5 of them also send a 4-photo album."""
    plans = []
    for n in range(USERS):
        user = telegram.user(5001 + n)
        album = [(ALBUM_SIZE, f"album-{n}")] if n < ALBUMS else []
        singles = UPDATES_PER_USER - sum(size for size, _ in album)
        plans.append([(user, size, group) for size, group in album + [(1, None)] * singles])
    units = []
    for turn in range(max(len(plan) for plan in plans)):
        for plan in plans:
            if turn < len(plan):
                units.append(_photos(telegram, *plan[turn]))
                for update in units[-1].updates:
                    telegram.push_update(update)
    return units


async def _unfinished_jobs(database: str) -> int:
    conn = await asyncpg.connect(database.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM jobs WHERE state <> 'done'"))
    finally:
        await conn.close()


def _messages(telegram: FakeTelegram) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each message the bot sent: the call that sent it, and its last version (a status
    message is edited into the answer)."""
    first: dict[tuple[int, int], dict[str, Any]] = {}
    last: dict[tuple[int, int], dict[str, Any]] = {}
    for sent in telegram.sent:
        key = (sent["chat_id"], sent["message_id"])
        first.setdefault(key, sent)
        last[key] = sent
    return [(first[key], last[key]) for key in first]


def _answered(telegram: FakeTelegram) -> int:
    """Messages that are, by now, an answer: they hold the delete links."""
    return sum("/delete/" in (last["text"] or "") for _, last in _messages(telegram))


def _answers_by_unit(telegram: FakeTelegram, units: list[Unit]) -> dict[Unit, Counter[str]]:
    """Each message as it ends, as an 'answer' (in a private chat one message holds the links
    and the delete links) or 'other', under its unit."""
    owner = {(u.chat_id, m): u for u in units for m in u.message_ids}
    answers: dict[Unit, Counter[str]] = {u: Counter() for u in units}
    for sent, last in _messages(telegram):
        unit = owner[(sent["chat_id"], sent["reply_to"])]  # a KeyError is a stray message
        size, text = len(unit.message_ids), last["text"] or ""
        answer = "/delete/" in text
        if answer:
            assert last["preview_disabled"]
            assert text.count("/delete/") == size
            if size > 1:
                assert f"{size} of {size} files uploaded" in text
        answers[unit]["answer" if answer else "other"] += 1
    return answers


def _telegram_env(
    telegram: FakeTelegram, chevereto: FakeChevereto, webhook_url: str, database: str
) -> dict[str, str]:
    return {
        "CHEVERETO_URL": chevereto.url,
        "DEFAULT_API_KEY": KEY,
        "SECRET_KEY": SHARED_SECRET_KEY,
        "DATABASE_URL": database,
        "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "TELEGRAM_API_URL": telegram.api_url,
        "TELEGRAM_FILE_URL": telegram.file_url,
        "TELEGRAM_WEBHOOK_URL": webhook_url,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


@contextlib.asynccontextmanager
async def _webhook_replicas(
    chevereto: FakeChevereto, database: str, folder: Path
) -> AsyncIterator[tuple[FakeTelegram, RoundRobinProxy, list[Replica]]]:
    """Two replicas, each listening on its own port, behind the proxy's one webhook URL."""
    ports = free_ports(2)
    backends = [f"http://127.0.0.1:{port}" for port in ports]
    async with (
        FakeTelegram() as telegram,
        RoundRobinProxy(backends) as proxy,
        contextlib.AsyncExitStack() as stack,
    ):
        env = _telegram_env(telegram, chevereto, f"{proxy.url}/telegram", database)
        replicas = [
            await stack.enter_async_context(
                Replica(name, {**env, "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{port}"}, folder)
            )
            for name, port in zip(("a", "b"), ports, strict=True)
        ]
        await until(
            lambda: len(telegram.calls_to("setWebhook")) == 2,
            replicas,
            within=30,
            what="both replicas set the webhook",
        )
        yield telegram, proxy, replicas


async def _answered_then_stopped(
    telegram: FakeTelegram, replicas: list[Replica], units: list[Unit], database: str
) -> int:
    """Waits for an answer per unit, then stops the replicas (exit 0, no traceback);
    returns the number of jobs left unfinished."""
    await until(
        lambda: _answered(telegram) >= len(units),
        replicas,
        within=45,
        what=f"{len(units)} answers",
    )
    await asyncio.sleep(2)  # longer than the album window: a late duplicate would show
    unfinished = await _unfinished_jobs(database)
    codes = await asyncio.gather(*(replica.stop() for replica in replicas))
    logs = "\n".join(replica.log for replica in replicas)
    assert codes == [0, 0], logs[-4000:]
    assert "Traceback" not in logs
    return unfinished


def _check_each_uploaded_and_answered_once(
    telegram: FakeTelegram, chevereto: FakeChevereto, units: list[Unit]
) -> None:
    uploaded = Counter(r.file_md5 for r in chevereto.upload_requests)
    assert uploaded == Counter(md5 for unit in units for md5 in unit.md5s)
    answers = _answers_by_unit(telegram, units)
    assert all(count == {"answer": 1} for count in answers.values()), answers


if POSTGRES_URL or os.environ.get("CI"):  # not collected without PostgreSQL, except in CI

    @pytest.mark.slow
    async def test_webhook_replicas_upload_and_answer_each_photo_once(
        postgres_database: str, chevereto: FakeChevereto, tmp_path: Path
    ) -> None:
        """Two webhook replicas behind one address upload and answer each of 200 photos once."""
        replicas_at = _webhook_replicas(chevereto, postgres_database, tmp_path)
        async with replicas_at as (telegram, proxy, replicas):
            units = _push_updates(telegram)
            unfinished = await _answered_then_stopped(telegram, replicas, units, postgres_database)
        assert unfinished == 0
        assert telegram.pending_updates == []
        _check_each_uploaded_and_answered_once(telegram, chevereto, units)
        received = [set(proxy.answered_by(0)), set(proxy.answered_by(1))]
        assert all(received), "both replicas received updates"
        assert received[0] | received[1] == {i for unit in units for i in unit.update_ids}
        albums = [set(unit.update_ids) for unit in units if len(unit.update_ids) > 1]
        assert any(album & received[0] and album & received[1] for album in albums)

    @pytest.mark.slow
    async def test_album_items_posted_at_once_to_both_replicas_get_one_answer(
        postgres_database: str, chevereto: FakeChevereto, tmp_path: Path
    ) -> None:
        """Albums whose items reach both replicas at the same moment are each answered once."""
        replicas_at = _webhook_replicas(chevereto, postgres_database, tmp_path)
        async with replicas_at as (telegram, proxy, replicas):
            albums = [_photos(telegram, telegram.user(6001 + n), 6, f"burst-{n}") for n in range(5)]
            hook = telegram.webhook
            assert hook is not None
            posts = [
                telegram.post_webhook(hook["url"], update, hook["secret_token"])
                for album in albums
                for update in album.updates
            ]
            statuses = await asyncio.gather(*posts)  # as Telegram does over parallel connections
            unfinished = await _answered_then_stopped(telegram, replicas, albums, postgres_database)
        assert statuses == [200] * len(posts)
        assert unfinished == 0
        _check_each_uploaded_and_answered_once(telegram, chevereto, albums)
        assert {f.backend for f in proxy.forwarded} == {0, 1}


def _uploads_in(data_dir: Path) -> list[str]:
    """The channels of the uploads recorded in one process's SQLite database."""
    with sqlite3.connect(data_dir / "bot.sqlite3") as db:
        return [row[0] for row in db.execute("SELECT chat_id FROM uploads")]


@pytest.mark.slow
@pytest.mark.parametrize("fake", [{"shard_count": 2}], indirect=True)
async def test_shard_split_processes_each_serve_their_own_guilds(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """Two processes running shard 0 and shard 1 of 2 each answer the /upload of their guild."""
    env = {
        "CHEVERETO_URL": chevereto.url,
        "DEFAULT_API_KEY": KEY,
        "DISCORD_BOT_TOKEN": TOKEN,
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_SHARD_COUNT": "2",
    }
    harness = Harness(fake, chevereto, None, None)  # type: ignore[arg-type]
    # Each process keeps its own SQLite file here, so the database that recorded an upload
    # names the process that received its event. In production they share one PostgreSQL.
    async with (
        Replica("shard0", {**env, "DISCORD_SHARD_IDS": "0"}, tmp_path) as p0,
        Replica("shard1", {**env, "DISCORD_SHARD_IDS": "1"}, tmp_path) as p1,
    ):
        await until(
            lambda: len(fake.identifies) == 2, [p0, p1], within=30, what="both shards identify"
        )
        for channel in (CHANNEL, CHANNEL_B):
            attachment = fake.attachment_option("file", harness.image())
            payload = await harness.slash("upload", attachment, channel_id=channel)
            await harness.answer_of(payload, "Short link", timeout=20)
            await harness.answer_of(payload, "/delete/")
        codes = await asyncio.gather(p0.stop(), p1.stop())
    assert codes == [0, 0], p0.log[-2000:] + p1.log[-2000:]
    assert "Traceback" not in p0.log + p1.log
    assert sorted(i[:2] for i in fake.identifies) == [(0, 2), (1, 2)]
    assert "Discord: shards 0 of 2" in p0.log
    assert "Discord: shards 1 of 2" in p1.log
    assert await asyncio.to_thread(_uploads_in, p0.data_dir) == [str(CHANNEL)]
    assert await asyncio.to_thread(_uploads_in, p1.data_dir) == [str(CHANNEL_B)]


@pytest.mark.slow
@pytest.mark.parametrize("fake", [{"shard_count": 2}], indirect=True)
async def test_a_shard_id_beyond_the_count_stops_the_process_naming_it(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """DISCORD_SHARD_IDS=2 of DISCORD_SHARD_COUNT=2 stops the process with one line naming it."""
    env = {
        "PYTHONPATH": str(ROOT),
        "CHEVERETO_URL": chevereto.url,
        "DISCORD_BOT_TOKEN": TOKEN,
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_SHARD_COUNT": "2",
        "DISCORD_SHARD_IDS": "2",
        "DATA_DIR": str(tmp_path / "data"),
    }
    code, err = await run_bot(env, tmp_path, timeout=30)
    assert code == 1
    assert "cannot start: DISCORD_SHARD_IDS must be below the shard count, 2" in err
    assert "Traceback" not in err
    assert fake.identifies == []

"""Fault campaign, a flood: thousands of files from one user get one clear notice and a
bounded queue.

The core-level tests drive Intake with the production limits (20 waiting uploads per user,
50 items per album) as an adapter would; the end-to-end test floods the real Telegram
adapter. Each ends with every accepted upload answered and no job left.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.chevereto.probe import probe_png
from bot.domain import UserRef
from bot.intake import Intake
from bot.payloads import JobSpec
from bot.texts import render
from bot.tuning import MAX_ALBUM_ITEMS, MAX_WAITING_JOBS
from tests.conftest import ALICE, BOB, KEY, PRIVATE
from tests.support.fakes.telegram_api import FakeTelegram
from tests.support.fault_harness import (
    RATE_LIMITED,
    final_texts,
    running_telegram,
    telegram_settings,
)
from tests.support.job_handler import RecordingHandler, file
from tests.support.jobs import running, unfinished_jobs
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow  # floods of hundreds of files, on purpose

BURST = 500
"""Files of a burst; the campaign's 10,000 would cost ~17 s per database (a query each)."""
ALBUMS = 10
ALBUM_SIZE = 10  # the most a Telegram album or a Discord message carries
SMALL_LIMIT = 3
HUGE_ALBUM = 120


def spec(name: str, user: UserRef = ALICE) -> JobSpec:
    return JobSpec(user, PRIVATE, "en", (file(name),))


def notices(replies: list) -> list[str]:
    return [render(reply.text, "en") for reply in replies if reply is not None]


async def test_a_burst_of_files_keeps_20_waiting_and_gives_one_notice(store, service, runner):
    """500 files at once (Discord delivers events concurrently): 20 wait, one notice."""
    await store.keys.link(ALICE, KEY)
    intake = Intake(store, service, runner)
    replies = await asyncio.gather(*(intake.posted(spec(f"{n}.png")) for n in range(BURST)))
    assert notices(replies) == [RATE_LIMITED]
    assert await store.jobs.waiting_of("telegram", ALICE.id) == MAX_WAITING_JOBS
    accepted = [f"{n}.png" for n, reply in enumerate(replies) if reply is None][:MAX_WAITING_JOBS]
    handler = RecordingHandler({name: probe_png() for name in accepted})
    runner.register("telegram", handler)
    async with running(runner, store):
        await handler.wait_for_replies(MAX_WAITING_JOBS, timeout=30)
    assert await unfinished_jobs(store) == 0
    assert sorted(s.items[0].filename for s, _ in handler.sent) == sorted(accepted)


async def test_albums_count_toward_the_limit(store, service, runner):
    """With a limit of 3, ten albums of 10: three albums wait, whole; the rest get one notice."""
    await store.keys.link(ALICE, KEY)
    intake = Intake(store, service, runner, max_waiting_jobs=SMALL_LIMIT)
    replies = [
        await intake.posted(spec(f"{n}.png"), group_key=f"tg:1:{n // ALBUM_SIZE}")
        for n in range(ALBUMS * ALBUM_SIZE)
    ]
    assert notices(replies) == [RATE_LIMITED]
    accepted = SMALL_LIMIT * ALBUM_SIZE
    assert replies[:accepted] == [None] * accepted
    assert await store.jobs.waiting_of("telegram", ALICE.id) == SMALL_LIMIT
    handler = RecordingHandler({f"{n}.png": probe_png() for n in range(accepted)})
    runner.register("telegram", handler)
    async with running(runner, store):
        await handler.wait_for_replies(SMALL_LIMIT, timeout=30)
    assert await unfinished_jobs(store) == 0
    summaries = [render(reply.text, "en") for _, reply in handler.sent]
    assert [s.splitlines()[0] for s in summaries] == ["10 of 10 files uploaded."] * SMALL_LIMIT


async def test_one_huge_album_keeps_50(store, service, runner):
    """One album of 120 items keeps the first 50 and refuses the rest with one notice."""
    await store.keys.link(ALICE, KEY)
    intake = Intake(store, service, runner)
    replies = [
        await intake.posted(spec(f"{n}.png"), group_key="tg:1:huge") for n in range(HUGE_ALBUM)
    ]
    assert notices(replies) == [RATE_LIMITED]
    assert await unfinished_jobs(store) == 1
    handler = RecordingHandler({f"{n}.png": probe_png() for n in range(MAX_ALBUM_ITEMS)})
    runner.register("telegram", handler)
    async with running(runner, store):
        (summary,) = await handler.wait_for_replies(1, timeout=30)
    assert render(summary.text, "en").startswith(f"{MAX_ALBUM_ITEMS} of {MAX_ALBUM_ITEMS} files")
    assert await unfinished_jobs(store) == 0


async def test_a_flood_leaves_other_users_alone(store, service, runner):
    """While one user's flood is refused, another user's file is accepted at once."""
    intake = Intake(store, service, runner)
    for n in range(MAX_WAITING_JOBS + 5):
        await intake.posted(spec(f"{n}.png"))
    assert await intake.posted(spec("bob.png", BOB)) is None
    assert await store.jobs.waiting_of("telegram", BOB.id) == 1


ALICE_ID = 1001


@pytest.fixture
async def telegram():
    async with FakeTelegram() as fake:
        yield fake


async def test_a_telegram_flood_is_told_once_and_every_accepted_photo_answered(
    telegram, chevereto, tmp_path, database
):
    """60 photos then 10 albums of 3 at once: 20 uploads wait, one notice, 20 answers (one
    message each, in the private chat), no job."""
    settings = telegram_settings(telegram, chevereto.url, tmp_path / "data", database)
    alice = telegram.user(ALICE_ID)
    chat = telegram.private_chat(alice)
    for n in range(60):
        ref = telegram.add_file(probe_png(), mime_type="image/png")
        album = {"media_group_id": f"flood-{n // 3}"} if n >= 30 else {}
        telegram.push_update(telegram.message_update(chat, alice, photo=ref, **album))
    async with running_telegram(settings, jobs=False) as core:
        await core.store.keys.link(UserRef("telegram", str(ALICE_ID)), KEY)
        await telegram.wait_for(lambda m: m["text"] == RATE_LIMITED, timeout=20)
        await eventually(lambda: not telegram.pending_updates, within=20)
        assert await core.store.jobs.waiting_of("telegram", str(ALICE_ID)) == 20
        runner = asyncio.create_task(core.runner.run())
        try:
            await eventually(lambda: _no_unfinished_jobs(core), within=30)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    texts = final_texts(telegram, ALICE_ID)
    assert texts.count(RATE_LIMITED) == 1
    assert sum("/delete/" in t for t in texts) == 20
    assert len(texts) == 1 + 20
    assert len(chevereto.images) == 20


async def _no_unfinished_jobs(core) -> bool:
    return await unfinished_jobs(core.store) == 0

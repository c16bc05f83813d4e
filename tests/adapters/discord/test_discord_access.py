"""Access lists, the shared-key quota and /stats through the real discord.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.store import Prefs
from tests.conftest import OTHER_KEY
from tests.support.discord_harness import (
    ALICE_ID,
    BOB_ID,
    CHANNEL,
    CHANNEL_B,
    EPHEMERAL,
    GUILD,
    Harness,
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
    harnessed,
    settings_for,
)
from tests.support.jobs import unfinished_jobs


@pytest.fixture(name="bot")
async def listed_bot(fake, chevereto, tmp_path) -> AsyncIterator[Harness]:
    """Alice is listed and an admin; the first guild is listed; the shared key is limited."""
    settings = settings_for(
        chevereto,
        tmp_path / "data",
        allowed_users=f"discord:{ALICE_ID}",
        allowed_chats=f"discord:{GUILD}",
        bot_admins=f"discord:{ALICE_ID}",
        default_api_key=OTHER_KEY,
        shared_key_daily_limit=1,
    )
    async with harnessed(fake, chevereto, settings) as bot:
        yield bot


async def upload(bot: Harness, **extra: object) -> dict:
    file = bot.fake.attachment_option("file", bot.image())
    return await bot.slash("upload", file, **extra)


async def test_outside_the_lists_one_ephemeral_sentence_and_no_trace(bot: Harness) -> None:
    """Bob in a DM and in the unlisted guild: "private", ephemeral, once; nothing stored."""
    dm = bot.fake.snowflake()
    payload = await upload(bot, user_id=BOB_ID, channel_id=dm, guild_id=None)
    refusal = await bot.answer_of(payload, "This bot is private")
    assert refusal.json["data"]["flags"] == EPHEMERAL
    second = await bot.slash(
        "expire",
        {"name": "duration", "type": 3, "value": "1h"},
        user_id=BOB_ID,
        channel_id=CHANNEL_B,
    )
    await bot.answered(lambda r: second["token"] in r.path and r.method == "DELETE")
    assert "private" not in str([r.json for r in bot.fake.requests if second["token"] in r.path])
    assert bot.chevereto.upload_requests == []
    assert await unfinished_jobs(bot.core.store) == 0
    assert await bot.core.store.prefs.of(discord_user(BOB_ID)) == Prefs()


async def test_anyone_in_a_listed_guild_is_served_there(bot: Harness) -> None:
    """Bob uploads in the listed guild, with the shared key."""
    payload = await upload(bot, user_id=BOB_ID, channel_id=CHANNEL)
    await bot.answer_of(payload, "Short link")
    assert bot.chevereto.upload_requests[0].headers["x-api-key"] == OTHER_KEY


async def test_the_shared_key_stops_at_the_daily_limit(bot: Harness) -> None:
    """One upload with the shared key, then an ephemeral sentence saying to link one's own."""
    first = await upload(bot, user_id=BOB_ID, channel_id=CHANNEL)
    await bot.answer_of(first, "Short link")
    second = await upload(bot, user_id=BOB_ID, channel_id=CHANNEL)
    refusal = await bot.answer_of(second, "/link")
    assert refusal.json["data"]["flags"] == EPHEMERAL
    assert len(bot.chevereto.upload_requests) == 1


async def test_stats_are_ephemeral_and_for_the_admin(bot: Harness) -> None:
    """Alice's /stats is an ephemeral answer with the numbers; Bob's is the refusal."""
    payload = await bot.slash(
        "stats", user_id=ALICE_ID, channel_id=bot.fake.snowflake(), guild_id=None
    )
    numbers = await bot.answer_of(payload, "Jobs waiting")
    assert numbers.json["data"]["flags"] == EPHEMERAL
    refused = await bot.slash("stats", user_id=BOB_ID, channel_id=CHANNEL)
    answer = await bot.answer_of(refused, "not allowed")
    assert answer.json["data"]["flags"] == EPHEMERAL

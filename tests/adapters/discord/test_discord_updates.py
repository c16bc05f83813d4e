"""Discord events that could not be handled, end to end: one discord.py cannot parse, and a
message whose job cannot be stored (tried again in place, since Discord never sends it again)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Core
from tests.conftest import KEY
from tests.support import discord_harness
from tests.support.discord_harness import (
    ALICE_ID,
    Harness,
    bot_fixture,  # noqa: F401 - a fixture
    discord_for,
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
    posted_to,
    settings_for,
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord
from tests.support.jobs import unfinished_jobs
from tests.support.metrics import dropped
from tests.support.running import FAST
from tests.support.sqlite_faults import rename_table
from tests.support.waiting import eventually

UNSTORED = "I could not take that just now. Send it again later."


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@contextlib.asynccontextmanager
async def jobs_table_gone(
    fake: FakeDiscord, chevereto: FakeChevereto, data_dir: Path
) -> AsyncIterator[Harness]:
    """The bot on FAST timings, Alice's key linked, its jobs table renamed away (put back with
    ``put_back``); no job runner, whose own start would meet the table gone."""
    settings = settings_for(chevereto, data_dir)
    bot = discord_harness.running(settings, discord_for(fake), jobs=False, tuning=FAST)
    async with bot as (core, adapter):
        await core.store.keys.link(discord_user(ALICE_ID), KEY)
        await rename_table(data_dir / "bot.sqlite3", "jobs", "jobs_away")
        yield Harness(fake, chevereto, core, adapter)


async def put_back(data_dir: Path) -> None:
    await rename_table(data_dir / "bot.sqlite3", "jobs_away", "jobs")


async def jobs_stored(core: Core) -> int:
    return await unfinished_jobs(core.store)


async def test_an_event_that_cannot_be_parsed_costs_only_itself(bot: Harness, caplog) -> None:
    """A MESSAGE_CREATE whose author is no user object, then a good DM with an image: the image
    is uploaded and answered, the shard stays connected (no new IDENTIFY), one WARNING names the
    event by id and nothing it held, and the drop is counted."""
    caplog.set_level(logging.INFO)
    await bot.core.store.keys.link(discord_user(ALICE_ID), KEY)
    identifies = list(bot.fake.identifies)
    dm = bot.fake.snowflake()
    malformed = bot.fake.message_create(dm, bot.user(ALICE_ID), attachments=[bot.image()])
    malformed["author"] = "garbage"
    await bot.fake.dispatch("MESSAGE_CREATE", malformed)
    await bot.post(dm, bot.image(), user_id=ALICE_ID)
    await bot.answered(posted_to(dm, "/delete/"))
    assert len(bot.chevereto.images) == 1
    assert bot.fake.identifies == identifies
    assert bot.adapter.connected()
    assert dropped(bot.core.monitor, "discord", "unparsable") == 1
    (warning,) = warnings(caplog)
    assert warning.startswith(f"discord: MESSAGE_CREATE {malformed['id']} cannot be parsed;")
    assert "garbage" not in caplog.text


async def test_a_dm_whose_job_cannot_be_stored_yet_is_tried_again_in_place(
    fake, chevereto, tmp_path, caplog
) -> None:
    """The jobs table gone while a DM's image comes: the message is tried again after a pause,
    and once the table is back its job is stored, once; nothing is dropped."""
    caplog.set_level(logging.INFO)
    async with jobs_table_gone(fake, chevereto, tmp_path / "data") as bot:
        await bot.post(fake.snowflake(), bot.image(), user_id=ALICE_ID)
        await eventually(lambda: any("trying again" in w for w in warnings(caplog)))
        await put_back(tmp_path / "data")
        await eventually(lambda: jobs_stored(bot.core), within=5)
        await asyncio.sleep(0.5)  # a second job would be stored by now
        assert await jobs_stored(bot.core) == 1
        assert dropped(bot.core.monitor, "discord", "unstored") == 0


async def test_a_dm_whose_job_cannot_be_stored_for_long_is_refused_in_one_sentence(
    fake, chevereto, tmp_path
) -> None:
    """The jobs table gone past the patience (1 s in FAST): the poster is told, once, to send it
    again later, nothing is stored, and the drop is counted."""
    async with jobs_table_gone(fake, chevereto, tmp_path / "data") as bot:
        dm = fake.snowflake()
        await bot.post(dm, bot.image(), user_id=ALICE_ID)
        await bot.answered(posted_to(dm, UNSTORED))
        assert dropped(bot.core.monitor, "discord", "unstored") == 1
        await put_back(tmp_path / "data")
        assert await jobs_stored(bot.core) == 0
    assert len([r for r in fake.requests if posted_to(dm, UNSTORED)(r)]) == 1

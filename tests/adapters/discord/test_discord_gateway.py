"""The Discord adapter's connection: shards, the Message Content intent, and `python -m bot`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.app import Core
from bot.errors import StartupFailed
from tests.conftest import KEY
from tests.support.discord_harness import (
    ALICE_ID,
    CHANNEL,
    CHANNEL_B,
    GUILD,
    GUILD_B,
    TOKEN,
    Harness,
    bot_fixture,  # noqa: F401 - a fixture
    discord_for,
    discord_user,
    fake_fixture,  # noqa: F401 - a fixture
    running,
    settings_for,
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import MESSAGE_CONTENT, FakeDiscord
from tests.support.jobs import unfinished_jobs
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[3]


async def help_is_answered(bot: Harness, channel_id: int) -> None:
    payload = await bot.slash("help", channel_id=channel_id)
    await bot.answer_of(payload, "/upload")


@pytest.mark.parametrize("fake", [{"shard_count": 2}], indirect=True)
async def test_two_shards_each_receive_their_guilds_events(bot: Harness) -> None:
    """With /gateway/bot saying 2 shards, both connect and each guild's commands are answered."""
    intents = bot.adapter.client.intents.value
    assert sorted(bot.fake.identifies) == [(0, 2, intents), (1, 2, intents)]
    client = bot.adapter.client
    assert {g.id: g.shard_id for g in client.guilds} == {GUILD: 0, GUILD_B: 1}
    await help_is_answered(bot, CHANNEL)
    await help_is_answered(bot, CHANNEL_B)


@pytest.mark.parametrize("bot", [{"shard_ids": (1,), "shard_count": 2}], indirect=True)
async def test_shard_settings_select_the_shards_this_process_runs(bot: Harness) -> None:
    """DISCORD_SHARD_IDS=1 and DISCORD_SHARD_COUNT=2 connect shard 1 only, which serves guild B."""
    assert [(i.shard_id, i.shard_count) for i in bot.fake.identifies] == [(1, 2)]
    assert [r.path for r in bot.fake.requests if r.path == "/gateway/bot"] == ["/gateway/bot"]
    await help_is_answered(bot, CHANNEL_B)
    with pytest.raises(LookupError):
        await bot.fake.dispatch("INTERACTION_CREATE", {"guild_id": str(GUILD)})


@pytest.mark.parametrize("fake", [{"privileged_intents": 0}], indirect=True)
async def test_a_refused_message_content_intent_still_serves_commands(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When Discord refuses Message Content, the bot says how to enable it and runs without it."""
    settings = settings_for(chevereto, tmp_path)
    with caplog.at_level(logging.WARNING, logger="adapters.discord"):
        async with running(settings, discord_for(fake)) as (core, adapter):
            await help_is_answered(Harness(fake, chevereto, core, adapter), CHANNEL)
    assert [i.intents & MESSAGE_CONTENT for i in fake.identifies] == [0]
    assert "Message Content" in caplog.text


async def test_a_refused_token_stops_the_start_naming_the_variable(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """When Discord answers 401 to the login, the adapter fails its start with one sentence."""
    core = await Core.start(settings_for(chevereto, tmp_path))
    try:
        adapter = core.connect(discord_for(fake, bot_token="not-the-token"))
        with pytest.raises(StartupFailed, match="Discord refused DISCORD_BOT_TOKEN"):
            await adapter.run()
    finally:
        await core.close()
    assert fake.identifies == []


async def test_a_job_accepted_before_a_restart_is_answered_after_it(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """An /upload accepted by a bot that stops before running it is answered by the next one."""
    settings, discord_settings = settings_for(chevereto, tmp_path), discord_for(fake)
    async with running(settings, discord_settings, jobs=False) as (core, adapter):
        harness = Harness(fake, chevereto, core, adapter)
        await core.store.keys.link(discord_user(ALICE_ID), KEY)
        payload = await harness.slash("upload", fake.attachment_option("file", harness.image()))
        await harness.answer_of(payload, "'type': 5")

        async def stored() -> bool:
            return await unfinished_jobs(core.store) == 1

        await eventually(stored)
    async with running(settings, discord_settings):
        answer = await harness.answer_of(payload, "Short link")
        await harness.answer_of(payload, "/delete/")
    assert answer.method == "PATCH"
    assert len(chevereto.images) == 1


async def _until_connected(fake: FakeDiscord, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(20):
        while not fake.identifies:
            if process.returncode is not None:
                raise AssertionError(f"python -m bot exited with {process.returncode}")
            await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_python_m_bot_serves_discord_then_stops_on_sigterm(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """`python -m bot` answers an /upload through the fake gateway, then exits 0 on SIGTERM."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "DISCORD_BOT_TOKEN": TOKEN,
        "DISCORD_API_URL": fake.api_url,
        "CHEVERETO_URL": chevereto.url,
        "DATA_DIR": str(tmp_path / "data"),
        "DEFAULT_API_KEY": KEY,
        "LOG_LEVEL": "DEBUG",
    }
    log = tmp_path / "bot.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=tmp_path, env=env, stdout=out, stderr=out
        )
    try:
        await _until_connected(fake, process)
        harness = Harness(fake, chevereto, None, None)  # type: ignore[arg-type]
        attachment = fake.attachment_option("file", harness.image())
        payload = await harness.slash("upload", attachment)
        await harness.answer_of(payload, "Short link", timeout=20)
        await harness.answer_of(payload, "/delete/")
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
    output = log.read_text()
    assert code == 0, output
    assert TOKEN not in output
    assert KEY not in output

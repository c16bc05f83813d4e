"""Discord at start: an unreachable Discord is waited for, a refused token stops the bot with
exit code 2, and ``connected()`` says whether the client is ready. Real discord.py, fake Discord."""

from __future__ import annotations

import logging
from pathlib import Path

import discord
import pytest

from bot.app import Core
from bot.errors import TokenRejected
from tests.support.discord_harness import (
    CHANNEL,
    GUILD,
    OWNER_ID,
    TOKEN,
    Harness,
    discord_for,
    fake_fixture,  # noqa: F401 - a fixture
    settings_for,
)
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord
from tests.support.running import FAST, running
from tests.support.waiting import eventually


@pytest.fixture(autouse=True)
def _restore_discord_globals(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter sets these process-wide values; they are put back after the test."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)


def retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.platform.reconnect" and r.levelno == logging.WARNING
    ]


async def test_an_unreachable_discord_is_waited_for(
    chevereto: FakeChevereto, tmp_path: Path, unused_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens at DISCORD_API_URL: one line per failed login, never a crash; once
    Discord comes up there, the bot connects and answers."""
    fake = FakeDiscord(token=TOKEN, port=unused_port)
    fake.add_guild(GUILD, owner_id=OWNER_ID, channels=[CHANNEL], members=[fake.user(OWNER_ID)])
    settings = settings_for(chevereto, tmp_path)
    with caplog.at_level(logging.INFO):
        async with running(settings, discord_for(fake), tuning=FAST) as core:
            adapter = core.platforms["discord"]
            await eventually(lambda: len(retries(caplog)) >= 2)
            assert not adapter.connected()
            async with fake:
                await eventually(adapter.connected)
                harness = Harness(fake, chevereto, core, adapter)  # type: ignore[arg-type]
                payload = await harness.slash("help", user_id=OWNER_ID)
                await harness.answer_of(payload, "/upload")
            await eventually(lambda: not adapter.connected())
    lines = retries(caplog)
    assert (
        lines[0] == "discord: connecting failed (connection refused), try 1; trying again in 0.1 s"
    )
    assert TOKEN not in caplog.text


async def test_a_refused_token_exits_2_naming_the_variable(
    fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> None:
    """A login Discord answers 401 to is not tried again: TokenRejected, exit code 2."""
    core = await Core.start(settings_for(chevereto, tmp_path), FAST)
    try:
        adapter = core.connect(discord_for(fake, bot_token="not-the-token"))
        with pytest.raises(TokenRejected) as refused:
            await adapter.run()
    finally:
        await core.close()
    assert refused.value.exit_code == 2
    assert refused.value.variable == "DISCORD_BOT_TOKEN"
    logins = [r for r in fake.requests if r.path == "/users/@me"]
    assert len(logins) == 1

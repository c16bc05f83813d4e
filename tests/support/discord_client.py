"""A bare discord.py client on the fake Discord: what the fake's own tests start.

``fake`` is a fake Discord with two guilds (``param``: its shard count) that the real
discord.py talks to; ``bot`` is a sharded client connected to it and ready. A test that
needs more guilds or channels in GUILD_CREATE adds them to ``fake`` first and starts its
own client with :func:`running`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord
import pytest
import yarl
from discord import app_commands

from tests.support.fakes.discord_api import FakeDiscord

TOKEN = "fake-discord-test-token-0123"
GUILD_A = 1000 << 22  # shard 0 of 2
GUILD_B = 1001 << 22  # shard 1 of 2
CHANNEL = 2000 << 22
USER = 3000 << 22


class Bot(discord.AutoShardedClient):
    """A sharded client with a command tree that queues the messages it sees."""

    def __init__(self, *, message_content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.seen: asyncio.Queue[discord.Message] = asyncio.Queue()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s pause between shard IDENTIFYs: the fake has no identify limit."""

    async def on_message(self, message: discord.Message) -> None:
        await self.seen.put(message)


@contextlib.asynccontextmanager
async def running(client: Bot) -> AsyncIterator[Bot]:
    """Log in, connect without reconnecting, wait for READY; close and check the task after."""
    await client.login(TOKEN)
    task = asyncio.create_task(client.connect(reconnect=False))
    ready = asyncio.create_task(client.wait_until_ready())
    try:
        await asyncio.wait({ready, task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # surfaces why the connection ended
        assert ready.done(), "the client never became ready"
        yield client
    finally:
        ready.cancel()
        await client.close()
        await asyncio.wait_for(task, timeout=5)  # re-raises whatever connect() raised


@pytest.fixture(name="fake")
async def fake_fixture(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeDiscord]:
    """The fake with guild A (CHANNEL, alice) and guild B; ``param``: the shard count."""
    async with FakeDiscord(token=TOKEN, shard_count=getattr(request, "param", 1)) as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_url)
        # Only used when a client skips /gateway/bot (plain Client, fixed shard_count).
        gateway = yarl.URL(fake.gateway_url)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", gateway)
        alice = fake.user(USER, name="alice")
        fake.add_guild(GUILD_A, name="A", owner_id=USER + 1, channels=[CHANNEL], members=[alice])
        fake.add_guild(GUILD_B, name="B", owner_id=USER + 1)
        yield fake
        assert fake.errors == []


@pytest.fixture(name="bot")
async def bot_fixture(fake: FakeDiscord) -> AsyncIterator[Bot]:
    """A client connected to ``fake`` and ready."""
    async with running(Bot()) as client:
        yield client

"""The Discord adapter running for real: the core, the fake Discord and the fake Chevereto.

Each test gets a fresh core on SQLite in its tmp_path, the adapter (connected
to the fake gateway and ready), the job runner, and helpers that send the
events a user would cause. The bot is wired as ``python -m bot`` wires it
(``tests.support.running``), from the core's settings and DISCORD_* settings.
The only difference from production is speed: no 5 s pause between shard
IDENTIFYs and no 2 s wait for guilds to stream in (:class:`FastDiscordSettings`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import discord
import pytest

from adapters.discord.adapter import BotClient, DiscordAdapter
from adapters.discord.settings import DiscordSettings
from bot.app import Core
from bot.chevereto.probe import probe_png
from bot.domain import ChatKind, ChatRef, UserRef
from bot.platform import Platform
from bot.platform.surface import PlatformCore
from bot.settings import Settings
from bot.tuning import Tuning
from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.discord_api import FakeDiscord, RecordedRequest, ResolvedOption
from tests.support.running import running as running_bot
from tests.support.settings import core_settings

JSON = dict[str, Any]
TOKEN = "discord-test-token"
SECRET = "discord-tests-secret"
GUILD = 1000 << 22  # shard 0 of 2
GUILD_B = 1001 << 22  # shard 1 of 2
CHANNEL = 2000 << 22
CHANNEL_B = 2001 << 22
ALICE_ID = 3000 << 22
BOB_ID = 3001 << 22
OWNER_ID = 3002 << 22
EPHEMERAL = 1 << 6
SUPPRESS_EMBEDS = 1 << 2


def discord_user(user_id: int) -> UserRef:
    return UserRef("discord", str(user_id))


def guild_chat(channel_id: int = CHANNEL) -> ChatRef:
    return ChatRef("discord", str(channel_id), ChatKind.CHANNEL)


class FastClient(BotClient):
    """The production client, without the pauses that only matter against the real Discord."""

    def __init__(self, **options: Any) -> None:
        super().__init__(guild_ready_timeout=0.05, **options)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """The fake has no IDENTIFY rate limit."""


class FastDiscordSettings(DiscordSettings):
    """DISCORD_* as production reads them; the adapter they build runs the fast client."""

    def connect(self, core: PlatformCore) -> Platform:
        return DiscordAdapter(core, self, client_class=FastClient)


@dataclass
class Harness:
    """A running bot, and what a test needs to talk to it and to look at what it did."""

    fake: FakeDiscord
    chevereto: FakeChevereto
    core: Core
    adapter: DiscordAdapter

    def user(self, user_id: int, locale: str = "en-US") -> JSON:
        return self.fake.user(user_id, name=f"user{user_id % 1000}", locale=locale)

    async def slash(
        self,
        name: str,
        *options: JSON | ResolvedOption,
        user_id: int = ALICE_ID,
        channel_id: int = CHANNEL,
        **extra: Any,
    ) -> JSON:
        """Dispatches a slash command; returns the interaction payload."""
        payload = self.fake.slash_interaction(
            name, user=self.user(user_id), channel_id=channel_id, options=options, **extra
        )
        await self.fake.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def click(self, custom_id: str, message: JSON, user_id: int = ALICE_ID) -> JSON:
        payload = self.fake.component_interaction(
            custom_id, user=self.user(user_id), message=message
        )
        await self.fake.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def post(
        self, channel_id: int, *attachments: JSON, user_id: int, content: str = ""
    ) -> JSON:
        """A user's message, dispatched as MESSAGE_CREATE; returns it as stored by the fake."""
        message = self.fake.message_create(
            channel_id, self.user(user_id), content=content, attachments=attachments
        )
        await self.fake.dispatch("MESSAGE_CREATE", message)
        return message

    def image(self, name: str = "cat.png", data: bytes | None = None) -> JSON:
        """A new attachment on the fake CDN: a unique PNG unless ``data`` is given."""
        body = probe_png() if data is None else data
        return self.fake.add_attachment(body, filename=name, content_type="image/png")

    async def answered(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 10
    ) -> RecordedRequest:
        return await self.fake.wait_for(predicate, timeout=timeout)

    async def answer_of(self, payload: JSON, text: str, timeout: float = 10) -> RecordedRequest:
        """The first request answering this interaction whose JSON holds ``text``."""
        token = payload["token"]

        def matches(request: RecordedRequest) -> bool:
            return token in request.path and text in str(request.json)

        return await self.answered(matches, timeout)

    def sent_by_bot(self, channel_id: int) -> list[JSON]:
        """The bot's own messages in a channel (not interaction responses), oldest first."""
        return [
            m
            for m in self.fake.messages.values()
            if m["channel_id"] == str(channel_id)
            and m["author"]["id"] == str(self.fake.bot_id)
            and "interaction_metadata" not in m
        ]


def posted_to(channel_id: int | str, text: str) -> Callable[[RecordedRequest], bool]:
    """Matches a message the bot posted in the channel whose JSON holds ``text``."""

    def matches(request: RecordedRequest) -> bool:
        path = f"/channels/{channel_id}/messages"
        return request.path.startswith(path) and text in str(request.json)

    return matches


def contents(requests: Iterable[RecordedRequest]) -> str:
    return "\n".join(str(request.json) for request in requests)


def buttons(message: JSON) -> list[JSON]:
    return [c for row in message.get("components") or [] for c in row["components"]]


def settings_for(chevereto: FakeChevereto, data_dir: Path, **extra: Any) -> Settings:
    """The core's settings on the fake host, with a fixed SECRET_KEY."""
    return core_settings(chevereto, data_dir, secret_key=SECRET, **extra)


def discord_for(fake: FakeDiscord, **extra: Any) -> DiscordSettings:
    """DISCORD_* pointing at the fake; ``extra`` sets more (``shard_ids=(1,)``, ``bot_token``)."""
    values = {"bot_token": TOKEN, "api_url": fake.api_url, **extra}
    return FastDiscordSettings(_env_file=None, **values)


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    discord_settings: DiscordSettings,
    *,
    jobs: bool = True,
    tuning: Tuning | None = None,
) -> AsyncIterator[tuple[Core, DiscordAdapter]]:
    """The bot with Discord connected and ready, and the job runner unless ``jobs`` is False;
    production's timings unless ``tuning`` says otherwise."""
    bot = running_bot(settings, discord_settings, jobs=jobs, ready=_ready, tuning=tuning)
    async with bot as core:
        yield core, cast(DiscordAdapter, core.platforms["discord"])


@contextlib.asynccontextmanager
async def harnessed(
    fake: FakeDiscord, chevereto: FakeChevereto, settings: Settings
) -> AsyncIterator[Harness]:
    """The bot on ``settings``, ready on the fake, with production's timings."""
    async with running(settings, discord_for(fake)) as (core, adapter):
        yield Harness(fake, chevereto, core, adapter)


async def _ready(platforms: list[Platform]) -> None:
    """Every shard connected; polled, since a refused intent replaces the client meanwhile."""
    (adapter,) = platforms
    while not cast(DiscordAdapter, adapter).client.is_ready():  # noqa: ASYNC110 - no event spans both clients
        await asyncio.sleep(0.01)


@pytest.fixture(name="fake")
async def fake_fixture(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeDiscord]:
    """A fake Discord with two guilds; ``param`` holds FakeDiscord options (shard_count ...)."""
    # The adapter sets these process-wide values; they are put back after the test.
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)
    async with FakeDiscord(token=TOKEN, **getattr(request, "param", {})) as fake:
        members = [fake.user(i, name=f"user{i % 1000}") for i in (ALICE_ID, BOB_ID, OWNER_ID)]
        for guild, channel in ((GUILD, CHANNEL), (GUILD_B, CHANNEL_B)):
            fake.add_guild(guild, owner_id=OWNER_ID, channels=[channel], members=members)
        yield fake
        assert fake.errors == []


@pytest.fixture(name="bot")
async def bot_fixture(
    request: pytest.FixtureRequest, fake: FakeDiscord, chevereto: FakeChevereto, tmp_path: Path
) -> AsyncIterator[Harness]:
    """The bot, ready on the fake, with production's timings but a status message shown after
    half a second; ``param`` holds extra DiscordSettings fields."""
    settings = settings_for(chevereto, tmp_path / "data")
    discord_settings = discord_for(fake, **getattr(request, "param", {}))
    tuning = Tuning(status_after_s=0.5, progress_every_s=0.5)
    async with running(settings, discord_settings, tuning=tuning) as (core, adapter):
        yield Harness(fake, chevereto, core, adapter)

"""The Discord platform: an auto-sharded bot whose every rule is the core's.

Operator set-up, in the developer portal (Bot page): enable the **Message
Content** privileged intent, so that mirrored channels see attachments (a bot in
more than 100 servers needs Discord's approval for it). If Discord refuses the
intent, the bot logs how to fix it and runs without it: commands, the context
menu and DMs still work, mirrored channels see no attachments. Invite the bot
with the ``bot`` and ``applications.commands`` scopes and the View Channel,
Send Messages, Read Message History and Embed Links permissions.

``DISCORD_API_URL`` is the REST base for everything discord.py sends, interaction
answers included, so a REST proxy sees all of it; the gateway URL and the shard
count come from its ``GET /gateway/bot``. ``DISCORD_SHARD_IDS`` and
``DISCORD_SHARD_COUNT`` let several processes split the shards of a large bot.
Attachments are downloaded from their CDN URLs directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import aiohttp
import discord
import yarl

from adapters.discord import files
from adapters.discord.backfill import read_history
from adapters.discord.commands import AppCommands, ErrorTree
from adapters.discord.inbound import Inbound
from adapters.discord.labels import Labels
from adapters.discord.outbound import JobAnswers, report_dm, send_dm
from adapters.discord.settings import DiscordSettings
from adapters.discord.texts import TEXTS
from adapters.discord.views import ActionButton
from bot.domain import ChatRef, Reply, Text, UserRef
from bot.errors import StartupFailed, TokenRejected
from bot.payloads import FileRef, JobSpec
from bot.platform import PlatformTexts
from bot.platform.history import PostedMessage
from bot.platform.reconnect import Reconnect
from bot.platform.surface import PlatformCore
from bot.platform.updates import UpdateRef, Updates
from bot.texts import Language

log = logging.getLogger(__name__)

MessageHook = Callable[[discord.Message], Awaitable[None]]
ActionHook = Callable[[discord.Interaction, str], Awaitable[None]]
Parser = Callable[[Any], None]
"""discord.py's parser of one gateway event: its raw data in, the client's events out."""
AUTHENTICATION_FAILED = 4004
"""The gateway's close code for a token it does not accept."""


def network_error(error: BaseException) -> bool:
    """Discord cannot be reached just now (DNS, refused, timeout, a 5xx): worth trying again."""
    passing = (aiohttp.ClientError, OSError, TimeoutError)
    return isinstance(error, (*passing, discord.DiscordServerError, discord.GatewayNotFound))


def intents(*, message_content: bool) -> discord.Intents:
    """Guilds (channels, permissions), guild and DM messages (mirroring, DM uploads), content.

    Message Content is privileged: without it a guild message's attachments
    arrive empty, so mirrored channels cannot be uploaded from.
    """
    return discord.Intents(
        guilds=True, guild_messages=True, dm_messages=True, message_content=message_content
    )


class BotClient(discord.AutoShardedClient):
    """Hands messages and action-button clicks to the adapter; mentions nobody, ever. A gateway
    event discord.py cannot parse is skipped under the core's rule (``bot.platform.updates``)."""

    def __init__(
        self,
        *,
        intents: discord.Intents,
        messages: MessageHook,
        actions: ActionHook,
        updates: Updates,
        **options: Any,
    ) -> None:
        super().__init__(
            intents=intents, allowed_mentions=discord.AllowedMentions.none(), **options
        )
        self.tree = ErrorTree(self)
        self._messages = messages
        self._actions = actions
        # The gateway reads this dict by reference, on every connection of every shard.
        parsers = self._connection.parsers
        for event, parse in parsers.items():
            parsers[event] = _guarded(event, parse, updates)

    async def setup_hook(self) -> None:
        """Runs at login, before the gateway connects: users never see stale commands."""
        await self.tree.set_translator(Labels())
        synced = await self.tree.sync()
        log.info("synced %d Discord application commands", len(synced))

    async def on_message(self, message: discord.Message) -> None:
        await self._messages(message)

    async def on_action(self, interaction: discord.Interaction, action: str) -> None:
        await self._actions(interaction, action)


def _guarded(event: str, parse: Parser, updates: Updates) -> Parser:
    """A parser that skips an event it cannot parse. Unguarded, its exception would end the
    shard's worker, and discord.py then closes the whole client."""

    def guarded(data: Any) -> None:
        try:
            parse(data)
        except Exception as error:
            event_id = data.get("id") if isinstance(data, dict) else None
            updates.unparsable(UpdateRef(event, None if event_id is None else str(event_id)), error)

    return guarded


def _quiet_sdk() -> None:
    """This bot never joins a voice channel, so missing voice libraries are no news.

    (``bot.ops.logs`` keeps discord.py's own logger above DEBUG, where it logs secrets.)
    """
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False


class DiscordAdapter:
    """The Platform the core runs: the client's events in, the jobs' files and answers out."""

    name: ClassVar[str] = DiscordSettings.name
    texts: ClassVar[PlatformTexts] = TEXTS

    def __init__(
        self,
        core: PlatformCore,
        settings: DiscordSettings,
        *,
        client_class: type[BotClient] = BotClient,
    ) -> None:
        self._core = core
        self._settings = settings
        self._client_class = client_class
        self._logged_in = asyncio.Event()
        self._reconnect = Reconnect(self.name, core.environment.tuning.reconnect, network_error)
        self._answers = JobAnswers(self._logged_in_client)
        # Discord never sends an event again: a temporary failure is tried again in place.
        self._updates = core.updates(self.name, sends_again=False)
        self._inbound = Inbound(core, self._answers, self._updates)
        self._commands = AppCommands(self._inbound, core.commands, core.backfills)
        self.client = self._new_client(message_content=True)
        _quiet_sdk()

    def size_limit_mb(self) -> int:
        """Discord hands any attachment over: only MAX_UPLOAD_MB limits it."""
        return self._core.environment.max_upload_mb

    def connected(self) -> bool:
        """The client is ready (every shard's READY came), not closed, and no shard's gateway
        connection is down (discord.py reconnects it meanwhile; the client stays "ready")."""
        client = self.client
        shards = client.shards.values()
        return (
            client.is_ready() and not client.is_closed() and not any(s.is_closed() for s in shards)
        )

    def fetch(self, ref: FileRef) -> AsyncIterator[bytes]:
        return files.fetch(self._logged_in_client, ref)

    async def deliver(self, job: JobSpec, reply: Reply, status: str | None) -> bool:
        return await self._answers.deliver(job, reply, status)

    async def progress(self, job: JobSpec, text: Text, status: str | None) -> str | None:
        return await self._answers.progress(job, text, status)

    async def tell(self, user: UserRef, reply: Reply, language: Language) -> bool:
        """By DM, once logged in."""
        return await send_dm(await self._logged_in_client(), int(user.id), reply, language)

    async def history(
        self, channel: ChatRef, *, after: str | None, before: str, limit: int
    ) -> list[PostedMessage]:
        """A channel's past (``bot.platform.history``), through discord.py."""
        return await read_history(await self._logged_in_client(), channel, after, before, limit)

    async def report(
        self, user: UserRef, reply: Reply, language: Language, handle: str | None
    ) -> str | None:
        """A backfill's report to its admin, by DM (``handle``: the message to edit)."""
        client = await self._logged_in_client()
        return await report_dm(client, int(user.id), reply, language, handle)

    async def run(self) -> None:
        """Logs in (syncing the commands), connects every shard; a cancel closes the client.

        Discord out of reach at login is tried again, with a new client each time, with the
        core's backoff (once logged in, discord.py reconnects the gateway itself); a token it
        refuses stops the bot."""
        discord.http.Route.BASE = self._settings.api_url
        message_content = True
        while True:
            try:
                await self._serve()
                return
            except discord.PrivilegedIntentsRequired:
                log.warning(
                    "Discord refused the Message Content intent: enable it on the Bot page of "
                    "the developer portal. Until then, mirrored channels see no attachments."
                )
                message_content = False
            except Exception as error:
                if not self._reconnect.transient(error):
                    raise
                await self._reconnect.failed(error)
            self.client = self._new_client(message_content=message_content)

    def _new_client(self, *, message_content: bool) -> BotClient:
        client = self._client_class(
            intents=intents(message_content=message_content),
            messages=self._inbound.message,
            actions=self._inbound.action,
            updates=self._updates,
        )
        client.add_dynamic_items(ActionButton)
        self._commands.install(client.tree)
        return client

    async def _serve(self) -> None:
        token = self._settings.bot_token
        if token is None:
            raise StartupFailed("DISCORD_BOT_TOKEN is not set")
        self._logged_in.clear()
        async with self.client as client:
            try:
                await client.login(token.get_secret_value())
            except discord.LoginFailure:
                raise TokenRejected("Discord", DiscordSettings.enabling_variable) from None
            await self._use_gateway(client)
            self._reconnect.succeeded()
            self._logged_in.set()
            try:
                await client.connect()
            except discord.ConnectionClosed as closed:
                if closed.code == AUTHENTICATION_FAILED:
                    raise TokenRejected("Discord", DiscordSettings.enabling_variable) from None
                raise

    async def _use_gateway(self, client: BotClient) -> None:
        """The gateway URL and shard count from GET /gateway/bot; DISCORD_SHARD_* narrow them."""
        recommended, url, _ = await client.http.get_bot_gateway()
        # discord.py reads this URL when it connects with a known shard count, and again
        # whenever Discord invalidates a session.
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        client.shard_count = count = self._settings.shard_count or recommended
        ids = list(self._settings.shard_ids or range(count))
        if max(ids) >= count:
            raise StartupFailed(f"DISCORD_SHARD_IDS must be below the shard count, {count}")
        client.shard_ids = ids
        log.info("Discord: shards %s of %d", ",".join(map(str, ids)), count)

    async def _logged_in_client(self) -> discord.Client:
        """For jobs, which may resume before the first login; once stopped, its calls fail fast."""
        await self._logged_in.wait()
        return self.client

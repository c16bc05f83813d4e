"""The Discord adapter: an auto-sharded bot whose every rule is the core's.

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

import discord
import yarl

from adapters.discord_.client import BotClient, intents
from adapters.discord_.commands import SlashCommands
from adapters.discord_.handler import DiscordJobs
from adapters.discord_.uploads import Uploads
from adapters.discord_.views import ActionButton
from bot.app import Core
from bot.domain import Platform
from bot.errors import StartupFailed

log = logging.getLogger(__name__)


def _quiet_sdk() -> None:
    """This bot never joins a voice channel, so missing voice libraries are no news.

    (``bot.logs`` keeps discord.py's own logger above DEBUG, where it logs secrets.)
    """
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False


class DiscordAdapter:
    """Registers the Discord job handler on the core's runner, then runs the bot until cancelled."""

    platform = Platform.DISCORD
    client_class: type[BotClient] = BotClient

    def __init__(self, core: Core) -> None:
        self._core = core
        self._logged_in = asyncio.Event()
        self._jobs = DiscordJobs(self._logged_in_client)
        self._uploads = Uploads(core, self._jobs)
        self._commands = SlashCommands(core, self._uploads)
        self.client = self._new_client(message_content=True)
        core.runner.register(Platform.DISCORD, self._jobs)
        _quiet_sdk()

    async def run(self) -> None:
        """Logs in (syncing the commands), connects every shard; a cancel closes the client."""
        discord.http.Route.BASE = self._core.settings.discord_api_url
        try:
            await self._serve()
        except discord.PrivilegedIntentsRequired:
            log.warning(
                "Discord refused the Message Content intent: enable it on the Bot page of the "
                "developer portal. Until then, mirrored channels see no attachments."
            )
            self.client = self._new_client(message_content=False)
            await self._serve()

    def _new_client(self, *, message_content: bool) -> BotClient:
        client = self.client_class(
            intents=intents(message_content=message_content),
            messages=self._uploads.from_message,
            actions=self._commands.on_action,
        )
        client.add_dynamic_items(ActionButton)
        self._commands.install(client.tree)
        return client

    async def _serve(self) -> None:
        token = self._core.settings.discord_bot_token
        if token is None:
            raise RuntimeError("DISCORD_BOT_TOKEN is not set")
        async with self.client as client:
            await client.login(token.get_secret_value())
            await self._use_gateway(client)
            self._logged_in.set()
            await client.connect()

    async def _use_gateway(self, client: BotClient) -> None:
        """The gateway URL and shard count from GET /gateway/bot; DISCORD_SHARD_* narrow them."""
        settings = self._core.settings
        recommended, url, _ = await client.http.get_bot_gateway()
        # discord.py reads this URL when it connects with a known shard count, and again
        # whenever Discord invalidates a session.
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        client.shard_count = count = settings.discord_shard_count or recommended
        ids = list(settings.discord_shard_ids or range(count))
        if max(ids) >= count:
            raise StartupFailed(f"DISCORD_SHARD_IDS must be below the shard count, {count}")
        client.shard_ids = ids
        log.info("Discord: shards %s of %d", ",".join(map(str, ids)), count)

    async def _logged_in_client(self) -> discord.Client:
        """For jobs, which may resume before the first login; once stopped, its calls fail fast."""
        await self._logged_in.wait()
        return self.client

"""The discord.py client: auto-sharded, with an app-command tree synced at login."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from adapters.discord_.labels import Labels
from adapters.discord_.messages import answer_error

log = logging.getLogger(__name__)

MessageHook = Callable[[discord.Message], Awaitable[None]]
ActionHook = Callable[[discord.Interaction, str], Awaitable[None]]


def intents(*, message_content: bool) -> discord.Intents:
    """Guilds (channels, permissions), guild and DM messages (mirroring, DM uploads), content.

    Message Content is privileged: without it a guild message's attachments
    arrive empty, so mirrored channels cannot be uploaded from.
    """
    return discord.Intents(
        guilds=True, guild_messages=True, dm_messages=True, message_content=message_content
    )


class ErrorTree(app_commands.CommandTree[discord.Client]):
    """Any failure of a command becomes one ephemeral sentence, never a traceback."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        await answer_error(interaction, cause)


class BotClient(discord.AutoShardedClient):
    """Hands messages and action-button clicks to the adapter; mentions nobody, ever."""

    def __init__(
        self,
        *,
        intents: discord.Intents,
        messages: MessageHook,
        actions: ActionHook,
        **options: Any,
    ) -> None:
        super().__init__(
            intents=intents, allowed_mentions=discord.AllowedMentions.none(), **options
        )
        self.tree = ErrorTree(self)
        self._messages = messages
        self._actions = actions

    async def setup_hook(self) -> None:
        """Runs at login, before the gateway connects: users never see stale commands."""
        await self.tree.set_translator(Labels())
        synced = await self.tree.sync()
        log.info("synced %d Discord application commands", len(synced))

    async def on_message(self, message: discord.Message) -> None:
        await self._messages(message)

    async def on_action(self, interaction: discord.Interaction, action: str) -> None:
        await self._actions(interaction, action)

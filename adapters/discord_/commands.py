"""SPEC's commands as Discord app commands: each reads its options and calls the core.

Command and option names stay English in every locale, as SPEC wants the same
names on both platforms and the answers name them; descriptions, choices and
the context menu are translated (see ``labels.py``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from adapters.discord_.identity import context_of
from adapters.discord_.labels import expiration_choices, label, switch_choices
from adapters.discord_.messages import InteractionReplies, answer_error
from adapters.discord_.refs import AttachmentRef
from adapters.discord_.uploads import Uploads
from bot.app import Core
from bot.commands import Context, deliver, parse_album
from bot.domain import Reply, UploadOptions
from bot.durations import parse_expiration

Call = Callable[[Context], Awaitable[Reply | list[Reply]]]
AppCommand = app_commands.Command[Any, ..., Any] | app_commands.ContextMenu
TAG_SEPARATORS = re.compile(r"[,\s]+")


def parse_tags(text: str | None) -> tuple[str, ...]:
    """``cat, cute #kitten`` → ``("cat", "cute", "kitten")``, each once."""
    words = (word.lstrip("#") for word in TAG_SEPARATORS.split(text or ""))
    return tuple(dict.fromkeys(word for word in words if word))


def upload_options(
    expiration: str | None,
    nsfw: bool | None,
    title: str | None,
    tags: str | None,
    album: str | None,
) -> UploadOptions:
    """The /upload options; a bad expiration or album raises the core's BadOption."""
    return UploadOptions(
        title=title or None,
        tags=parse_tags(tags),
        album_id=parse_album(album) if album else None,
        expiration=parse_expiration(expiration) if expiration else None,
        nsfw=nsfw,
    )


class SlashCommands:
    """Builds the app commands on one core; :meth:`install` puts them on a client's tree."""

    def __init__(self, core: Core, uploads: Uploads) -> None:
        self._core = core
        self._uploads = uploads

    def install(self, tree: app_commands.CommandTree[discord.Client]) -> None:
        for command in self._commands():
            tree.add_command(command)

    def _commands(self) -> list[AppCommand]:
        return [
            self._about("start"),
            self._about("help"),
            self._link(),
            self._unlink(),
            self._settings(),
            self._history(),
            self._expire(),
            self._nsfw(),
            self._album(),
            self._mirror(),
            self._upload(),
            self._menu(),
        ]

    async def run(
        self, interaction: discord.Interaction, call: Call, *, defer: bool = False
    ) -> None:
        """Calls the core and sends its replies; a call that reaches the host defers first."""
        if defer:
            await interaction.response.defer(ephemeral=True, thinking=True)
        ctx = await context_of(interaction, self._core.store)
        result = await call(ctx)
        replies = result if isinstance(result, list) else [result]
        await deliver(replies, InteractionReplies(interaction, ctx.language).send)

    async def on_action(self, interaction: discord.Interaction, action: str) -> None:
        """A Delete, Confirm or Cancel click; the core checks that the clicker is the uploader."""
        try:
            await self.run(
                interaction, lambda ctx: self._core.commands.action(ctx, action), defer=True
            )
        except Exception as error:  # a button has no command tree to report it
            await answer_error(interaction, error)

    def _about(self, name: str) -> AppCommand:
        async def about(interaction: discord.Interaction) -> None:
            await self.run(interaction, self._core.commands.help)

        return app_commands.Command(name=name, description=label(f"command.{name}"), callback=about)

    def _link(self) -> AppCommand:
        @app_commands.command(name="link", description=label("command.link"))
        @app_commands.describe(api_key=label("option.api_key"))
        async def link(interaction: discord.Interaction, api_key: str) -> None:
            await self.run(
                interaction, lambda ctx: self._core.commands.link(ctx, api_key), defer=True
            )

        return link

    def _unlink(self) -> AppCommand:
        @app_commands.command(name="unlink", description=label("command.unlink"))
        async def unlink(interaction: discord.Interaction) -> None:
            await self.run(interaction, self._core.commands.unlink)

        return unlink

    def _settings(self) -> AppCommand:
        @app_commands.command(name="settings", description=label("command.settings"))
        async def settings(interaction: discord.Interaction) -> None:
            await self.run(interaction, self._core.commands.settings)

        return settings

    def _history(self) -> AppCommand:
        @app_commands.command(name="history", description=label("command.history"))
        async def history(interaction: discord.Interaction) -> None:
            await self.run(interaction, self._core.commands.history)

        return history

    def _expire(self) -> AppCommand:
        @app_commands.command(name="expire", description=label("command.expire"))
        @app_commands.describe(duration=label("option.duration"))
        async def expire(interaction: discord.Interaction, duration: str) -> None:
            await self.run(interaction, lambda ctx: self._core.commands.expire(ctx, duration))

        return expire

    def _nsfw(self) -> AppCommand:
        @app_commands.command(name="nsfw", description=label("command.nsfw"))
        @app_commands.describe(state=label("option.switch"))
        @app_commands.choices(state=switch_choices())
        async def nsfw(interaction: discord.Interaction, state: str) -> None:
            await self.run(interaction, lambda ctx: self._core.commands.nsfw(ctx, state))

        return nsfw

    def _album(self) -> AppCommand:
        @app_commands.command(name="album", description=label("command.album"))
        @app_commands.describe(album=label("option.album"))
        async def album(interaction: discord.Interaction, album: str) -> None:
            await self.run(interaction, lambda ctx: self._core.commands.album(ctx, album))

        return album

    def _mirror(self) -> AppCommand:
        @app_commands.command(name="mirror", description=label("command.mirror"))
        @app_commands.describe(state=label("option.switch"))
        @app_commands.choices(state=switch_choices())
        @app_commands.default_permissions(manage_guild=True)
        @app_commands.guild_only()
        async def mirror(interaction: discord.Interaction, state: str) -> None:
            # Default permissions are only a default: a server can grant the command to anyone.
            is_admin = interaction.permissions.manage_guild
            await self.run(
                interaction, lambda ctx: self._core.commands.mirror(ctx, state, is_admin=is_admin)
            )

        return mirror

    def _upload(self) -> AppCommand:
        @app_commands.command(name="upload", description=label("command.upload"))
        @app_commands.describe(
            file=label("option.file"),
            expiration=label("option.expiration"),
            nsfw=label("option.nsfw"),
            title=label("option.title"),
            tags=label("option.tags"),
            album=label("option.upload_album"),
        )
        @app_commands.choices(expiration=expiration_choices())
        async def upload(  # noqa: PLR0917 - discord.py passes each option as a parameter
            interaction: discord.Interaction,
            file: discord.Attachment,
            expiration: str | None = None,
            nsfw: bool | None = None,
            title: str | None = None,
            tags: str | None = None,
            album: str | None = None,
        ) -> None:
            options = upload_options(expiration, nsfw, title, tags, album)
            await self._uploads.from_interaction(
                interaction, [AttachmentRef.of(file)], options=options
            )

        return upload

    def _menu(self) -> AppCommand:
        async def upload_message(
            interaction: discord.Interaction, message: discord.Message
        ) -> None:
            refs = [AttachmentRef.of(attachment, message) for attachment in message.attachments]
            await self._uploads.from_interaction(
                interaction, refs, caption=message.content or None, reply_to=message.id
            )

        return app_commands.ContextMenu(name=label("menu.upload"), callback=upload_message)

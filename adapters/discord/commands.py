"""The bot's commands as Discord app commands: each reads its options and hands them to Inbound.

Command and option names stay English in every locale: both platforms have the same
names, and the answers name them; descriptions, choices and
the context menu are translated (see ``labels.py``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands

from adapters.discord.backfill import backfill_group
from adapters.discord.files import file_ref
from adapters.discord.inbound import Call, Inbound
from adapters.discord.labels import expiration_choices, form_choices, label, switch_choices
from adapters.discord.outbound import answer_error
from bot.backfill.control import BackfillControl
from bot.chevereto.expiration import parse_expiration
from bot.commands import MAX_WIDTH, Commands, Context, parse_album
from bot.domain import Reply, UploadOptions

AppCommand = app_commands.Command[Any, ..., Any] | app_commands.ContextMenu | app_commands.Group
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
    *,
    more: UploadOptions,
) -> UploadOptions:
    """The /upload options; a bad expiration or album raises the core's BadOption. ``more``
    holds the options taken as they are (description, category, width)."""
    return replace(
        more,
        title=title or None,
        tags=parse_tags(tags),
        album_id=parse_album(album) if album else None,
        expiration=parse_expiration(expiration) if expiration else None,
        nsfw=nsfw,
    )


class ErrorTree(app_commands.CommandTree[discord.Client]):
    """Any failure of a command becomes one ephemeral sentence, never a traceback."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        await answer_error(interaction, cause)


class AppCommands:
    """Builds the app commands on the core's Commands; :meth:`install` puts them on a tree."""

    def __init__(self, inbound: Inbound, commands: Commands, backfills: BackfillControl) -> None:
        self._inbound = inbound
        self._commands = commands
        self._backfills = backfills

    def install(self, tree: app_commands.CommandTree[discord.Client]) -> None:
        for command in self._all():
            tree.add_command(command)

    def _all(self) -> list[AppCommand]:
        return [
            self._plain("start", self._commands.help),
            self._plain("help", self._commands.help),
            self._link(),
            self._plain("unlink", self._commands.unlink),
            self._plain("settings", self._commands.settings),
            self._plain("history", self._commands.history),
            self._plain("stats", self._commands.stats),
            self._expire(),
            self._nsfw(),
            self._filedate(),
            self._album(),
            self._number("category", self._commands.category),
            self._number("width", self._commands.width),
            self._format(),
            self._mirror(),
            backfill_group(self._inbound, self._backfills),
            self._upload(),
            self._menu(),
        ]

    def _plain(self, name: str, call: Call) -> AppCommand:
        """A command without options."""

        async def plain(interaction: discord.Interaction) -> None:
            await self._inbound.command(interaction, call)

        return app_commands.Command(name=name, description=label(f"command.{name}"), callback=plain)

    def _link(self) -> AppCommand:
        @app_commands.command(name="link", description=label("command.link"))
        @app_commands.describe(api_key=label("discord.option.api_key"))
        async def link(interaction: discord.Interaction, api_key: str) -> None:
            await self._inbound.command(
                interaction, lambda ctx: self._commands.link(ctx, api_key), defer=True
            )

        return link

    def _expire(self) -> AppCommand:
        @app_commands.command(name="expire", description=label("command.expire"))
        @app_commands.describe(duration=label("discord.option.duration"))
        async def expire(interaction: discord.Interaction, duration: str) -> None:
            await self._inbound.command(
                interaction, lambda ctx: self._commands.expire(ctx, duration)
            )

        return expire

    def _nsfw(self) -> AppCommand:
        @app_commands.command(name="nsfw", description=label("command.nsfw"))
        @app_commands.describe(state=label("discord.option.switch"))
        @app_commands.choices(state=switch_choices())
        async def nsfw(interaction: discord.Interaction, state: str) -> None:
            await self._inbound.command(interaction, lambda ctx: self._commands.nsfw(ctx, state))

        return nsfw

    def _filedate(self) -> AppCommand:
        @app_commands.command(name="filedate", description=label("command.filedate"))
        @app_commands.describe(state=label("discord.option.switch"))
        @app_commands.choices(state=switch_choices())
        async def filedate(interaction: discord.Interaction, state: str) -> None:
            await self._inbound.command(
                interaction, lambda ctx: self._commands.filedate(ctx, state)
            )

        return filedate

    def _album(self) -> AppCommand:
        @app_commands.command(name="album", description=label("command.album"))
        @app_commands.describe(album=label("discord.option.album"))
        async def album(interaction: discord.Interaction, album: str) -> None:
            await self._inbound.command(interaction, lambda ctx: self._commands.album(ctx, album))

        return album

    def _number(self, name: str, call: Callable[[Context, str], Awaitable[Reply]]) -> AppCommand:
        """A default given as a number, or ``off``: /category, /width."""

        @app_commands.describe(value=label(f"discord.option.{name}"))
        async def number(interaction: discord.Interaction, value: str) -> None:
            await self._inbound.command(interaction, lambda ctx: call(ctx, value))

        return app_commands.Command(
            name=name, description=label(f"command.{name}"), callback=number
        )

    def _format(self) -> AppCommand:
        @app_commands.command(name="format", description=label("command.format"))
        @app_commands.describe(form=label("discord.option.form"))
        @app_commands.choices(form=form_choices())
        async def format_(interaction: discord.Interaction, form: str) -> None:
            await self._inbound.command(interaction, lambda ctx: self._commands.format(ctx, form))

        return format_

    def _mirror(self) -> AppCommand:
        @app_commands.command(name="mirror", description=label("command.mirror"))
        @app_commands.describe(state=label("discord.option.switch"))
        @app_commands.choices(state=switch_choices())
        @app_commands.default_permissions(manage_guild=True)
        @app_commands.guild_only()
        async def mirror(interaction: discord.Interaction, state: str) -> None:
            # Default permissions are only a default: a server can grant the command to anyone.
            is_admin = interaction.permissions.manage_guild
            await self._inbound.command(
                interaction, lambda ctx: self._commands.mirror(ctx, state, is_admin=is_admin)
            )

        return mirror

    def _upload(self) -> AppCommand:
        @app_commands.command(name="upload", description=label("command.upload"))
        @app_commands.describe(
            file=label("discord.option.file"),
            url=label("discord.option.url"),
            expiration=label("discord.option.expiration"),
            nsfw=label("discord.option.nsfw"),
            title=label("discord.option.title"),
            tags=label("discord.option.tags"),
            album=label("discord.option.upload_album"),
            description=label("discord.option.description"),
            category=label("discord.option.upload_category"),
            width=label("discord.option.upload_width"),
            file_date=label("discord.option.file_date"),
        )
        @app_commands.choices(expiration=expiration_choices())
        async def upload(  # noqa: PLR0917 - discord.py passes each option as a parameter
            interaction: discord.Interaction,
            file: discord.Attachment | None = None,
            url: str | None = None,
            expiration: str | None = None,
            nsfw: bool | None = None,
            title: str | None = None,
            tags: str | None = None,
            album: str | None = None,
            description: str | None = None,
            category: app_commands.Range[int, 1, 2**31 - 1] | None = None,
            width: app_commands.Range[int, 1, MAX_WIDTH] | None = None,
            file_date: bool | None = None,
        ) -> None:
            more = UploadOptions(
                description=description, category_id=category, width=width, file_date=file_date
            )
            options = upload_options(expiration, nsfw, title, tags, album, more=more)
            item = None if file is None else file_ref(file)
            await self._inbound.upload(interaction, item, url, options)

        return upload

    def _menu(self) -> AppCommand:
        async def upload_message(
            interaction: discord.Interaction, message: discord.Message
        ) -> None:
            files = [file_ref(attachment, message) for attachment in message.attachments]
            await self._inbound.request(
                interaction, files, caption=message.content or None, reply_to=message.id
            )

        return app_commands.ContextMenu(name=label("discord.menu.upload"), callback=upload_message)

"""``/backfill`` on Discord: a channel's past messages read through discord.py, and the command
group that starts, shows and stops a backfill (the core holds every rule but the ones only
Discord knows: who manages the server, what the bot may read here, which id a moment has).

A thread or a forum post is a channel of its own: a backfill there reads that thread.
"""

from __future__ import annotations

from datetime import datetime

import discord
from discord import app_commands

from adapters.discord.files import file_ref
from adapters.discord.inbound import Call, Inbound
from adapters.discord.labels import label
from bot.backfill.control import MOST_MESSAGES, BackfillAsk, BackfillControl
from bot.commands import Context
from bot.domain import ChatRef, Reply, Text, Visibility
from bot.platform.history import PostedFile, PostedMessage
from bot.texts import t

Channel = discord.abc.GuildChannel | discord.Thread
HISTORY_PAGE = 100


def message_url(channel: ChatRef, message_id: int) -> str:
    return f"https://discord.com/channels/{channel.community}/{channel.id}/{message_id}"


def posted(message: discord.Message, channel: ChatRef, bot_id: int | None) -> PostedMessage:
    """A past message as the core reads it: mentions written as names, each attachment with
    its link as posted (without its expiring query)."""
    files = tuple(
        PostedFile(
            str(attachment.id),
            file_ref(attachment, message),
            attachment.url.split("?", 1)[0],
            attachment.is_spoiler(),
        )
        for attachment in message.attachments
    )
    return PostedMessage(
        str(message.id),
        message_url(channel, message.id),
        message.created_at,
        message.author.id == bot_id,
        message.clean_content,
        files,
    )


async def read_history(
    client: discord.Client, channel: ChatRef, after: str | None, before: str, limit: int
) -> list[PostedMessage]:
    """At most ``limit`` messages after ``after`` and before ``before``, oldest first; discord.py
    pages and waits out 429s."""
    target = client.get_channel(int(channel.id)) or await client.fetch_channel(int(channel.id))
    assert isinstance(target, discord.abc.Messageable)
    found = target.history(
        limit=min(limit, HISTORY_PAGE),
        after=None if after is None else discord.Object(int(after)),
        before=discord.Object(int(before)),
        oldest_first=True,
    )
    bot_id = client.user.id if client.user else None
    return [posted(message, channel, bot_id) async for message in found]


def _refusal(interaction: discord.Interaction, channel: object) -> Text | None:
    """What only Discord can say against a backfill here: not a server's text channel, thread
    or forum post; not a member who manages the server; a permission or the intent missing."""
    guild = interaction.guild
    if guild is None or not isinstance(channel, discord.TextChannel | discord.Thread):
        return t("discord.backfill.where")
    if not interaction.permissions.manage_guild:
        return t("mirror.admins_only")
    mine = channel.permissions_for(guild.me)
    if not mine.view_channel:
        return t("discord.backfill.view")
    if not mine.read_message_history:
        return t("discord.backfill.history")
    if not interaction.client.intents.message_content:
        return t("discord.backfill.content")
    return None


async def _estimate(interaction: discord.Interaction) -> int | None:
    """How many messages the channel holds, where Discord says (a thread's count, read fresh:
    the cached one counts only what the gateway showed since the start)."""
    channel = interaction.channel
    if not isinstance(channel, discord.Thread):
        return None
    try:
        fresh = await interaction.client.fetch_channel(channel.id)
    except discord.HTTPException:
        return channel.message_count
    return fresh.message_count if isinstance(fresh, discord.Thread) else None


async def _ask(
    interaction: discord.Interaction, since: str | None, limit: int | None, album: str | None
) -> BackfillAsk:
    channel = interaction.channel
    nsfw = isinstance(channel, discord.TextChannel | discord.Thread) and channel.is_nsfw()
    refusal = _refusal(interaction, channel)
    estimate = None if refusal is not None else await _estimate(interaction)
    name = f"#{getattr(channel, 'name', interaction.channel_id)}"
    return BackfillAsk(
        channel_name=name,
        until_id=str(interaction.id),
        first_id_on=_first_id_on,
        since=since,
        limit=limit,
        album=album,
        nsfw=nsfw,
        estimate=estimate,
        refusal=refusal,
    )


def _first_id_on(moment: datetime) -> str:
    """The id just before any message posted at ``moment``: reading after it starts there."""
    return str(discord.utils.time_snowflake(moment, high=False) - 1)


def backfill_group(inbound: Inbound, backfills: BackfillControl) -> app_commands.Group:
    """``/backfill start|status|stop``, shown to members who manage the server (checked again
    when used: a server can grant the command to anyone)."""
    group = app_commands.Group(
        name="backfill",
        description=label("command.backfill"),
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    @group.command(name="start", description=label("discord.backfill.start"))
    @app_commands.describe(
        since=label("discord.option.since"),
        limit=label("discord.option.limit"),
        album=label("discord.option.backfill_album"),
    )
    async def start(
        interaction: discord.Interaction,
        since: str | None = None,
        limit: app_commands.Range[int, 1, MOST_MESSAGES] | None = None,
        album: str | None = None,
    ) -> None:
        async def start_here(ctx: Context) -> Reply:
            return await backfills.start(ctx, await _ask(interaction, since, limit, album))

        await inbound.command(interaction, start_here, defer=True)

    @group.command(name="status", description=label("discord.backfill.status"))
    async def status(interaction: discord.Interaction) -> None:
        await inbound.command(interaction, _gated(interaction, backfills.status), defer=True)

    @group.command(name="stop", description=label("discord.backfill.stop"))
    async def stop(interaction: discord.Interaction) -> None:
        await inbound.command(interaction, _gated(interaction, backfills.stop), defer=True)

    return group


def _gated(interaction: discord.Interaction, call: Call) -> Call:
    """``call``, for a member who manages the server; anyone else hears that only they may."""
    if interaction.permissions.manage_guild:
        return call

    async def refused(ctx: Context) -> Reply:
        del ctx
        return Reply(t("mirror.admins_only"), visibility=Visibility.USER_ONLY)

    return refused

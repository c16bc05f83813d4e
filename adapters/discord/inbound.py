"""Discord events as core calls: commands and button clicks, upload requests, posted messages.

An interaction must choose at once whether its response is public (the upload's
answer) or ephemeral (a refusal): Discord gives a deferred response's first
follow-up the deferral's visibility. So Intake decides first, and defers
(publicly) only a request that becomes a job; a refusal is answered ephemerally.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import discord

from adapters.discord.files import file_ref
from adapters.discord.outbound import InteractionRef, InteractionReplies, JobAnswers, answer_error
from adapters.discord.settings import DiscordSettings
from bot.commands import Context, send_in_order
from bot.domain import ChatKind, ChatRef, Reply, UploadOptions, UserRef, Visibility
from bot.payloads import AnswerTarget, FileRef, JobSpec
from bot.platform.surface import PlatformCore
from bot.platform.updates import Outcome, UpdateRef, Updates
from bot.texts import Language, language_of, t

PLATFORM = DiscordSettings.name
Call = Callable[[Context], Awaitable[Reply | list[Reply]]]


def user_ref(user: discord.abc.User) -> UserRef:
    return UserRef(PLATFORM, str(user.id))


def chat_ref(channel_id: int, guild_id: int | None) -> ChatRef:
    """A guild channel (or thread) is a channel of its guild, which access lists name; anything
    outside a guild is the user's DM."""
    if guild_id is None:
        return ChatRef(PLATFORM, str(channel_id), ChatKind.PRIVATE)
    return ChatRef(PLATFORM, str(channel_id), ChatKind.CHANNEL, community=str(guild_id))


def _channel_id(interaction: discord.Interaction) -> int:
    if interaction.channel_id is None:
        raise ValueError("an interaction without a channel")
    return interaction.channel_id


def context_of(interaction: discord.Interaction) -> Context:
    """Who asked and where, in the language of their Discord client."""
    return Context(
        user_ref(interaction.user),
        chat_ref(_channel_id(interaction), interaction.guild_id),
        language_of(str(interaction.locale)),
        ephemeral=True,
        user_name=interaction.user.display_name,
    )


async def language_for(core: PlatformCore, user: UserRef, guild: discord.Guild | None) -> Language:
    """For a message, which carries no locale: the poster's last known one, else the guild's."""
    remembered = await core.language(user)
    return language_of(remembered or (str(guild.preferred_locale) if guild else None))


class Inbound:
    """Hands each event to the core and sends back what it answers at once."""

    def __init__(self, core: PlatformCore, answers: JobAnswers, updates: Updates) -> None:
        self._core = core
        self._answers = answers
        self._updates = updates

    async def command(
        self, interaction: discord.Interaction, call: Call, *, defer: bool = False
    ) -> None:
        """Calls the core (``Commands.answered``: access lists, language, one sentence for any
        error) and sends its replies; a call that reaches the host defers first."""
        if defer:
            await interaction.response.defer(ephemeral=True, thinking=True)
        ctx = context_of(interaction)
        replies = await self._core.commands.answered(ctx, lambda: call(ctx))
        await send_in_order(replies, InteractionReplies(interaction, ctx.language).send)
        if not replies:
            await _close_unanswered(interaction)

    async def action(self, interaction: discord.Interaction, action: str) -> None:
        """A Delete, Confirm or Cancel click; the core checks that the clicker is the uploader."""
        try:
            await self.command(
                interaction, lambda ctx: self._core.commands.action(ctx, action), defer=True
            )
        except Exception as error:  # a button has no command tree to report it
            await answer_error(interaction, error)

    async def upload(
        self,
        interaction: discord.Interaction,
        file: FileRef | None,
        url: str | None,
        options: UploadOptions,
    ) -> None:
        """/upload: its attachment, or the file at its link (the core checks and fetches it);
        exactly one of the two, else one ephemeral sentence."""
        link = (url or "").strip()
        if (file is None) == (not link):
            await self.command(interaction, _either)
            return
        item = file if file is not None else FileRef.of_link(link)
        await self.request(interaction, [item], options=options)

    async def request(
        self,
        interaction: discord.Interaction,
        files: list[FileRef],
        *,
        caption: str | None = None,
        options: UploadOptions | None = None,
        reply_to: int | None = None,
    ) -> None:
        """/upload or the context menu: refused at once (ephemeral), or deferred publicly and
        made a job, which answers later."""
        ctx = context_of(interaction)
        options = options or UploadOptions()
        spec = JobSpec(
            ctx.user, ctx.chat, ctx.language, tuple(files), caption, options, ephemeral=True
        )

        async def defer(accepted: JobSpec) -> JobSpec:
            return await _defer(interaction, accepted, reply_to)

        async def admit() -> list[Reply]:
            refusal = await self._core.intake.requested(spec, accept=defer)
            return [] if refusal is None else [refusal]

        replies = InteractionReplies(interaction, ctx.language)
        refusals = await self._core.commands.answered(ctx, admit)
        for refusal in refusals:
            await replies.send(replace(refusal, visibility=Visibility.USER_ONLY))
        if not refusals:
            await _close_unanswered(interaction)

    async def message(self, message: discord.Message) -> None:
        """A DM's attachments, or a mirrored channel's: one job, answered by replying to them.
        Discord never sends a message again, so one whose job could not be stored is tried
        again here (``bot.platform.updates``); failing that, the poster is asked to send it
        later."""
        # Bots (this one included) and webhooks have no one to send a delete link to.
        if message.author.bot or message.webhook_id is not None or not message.attachments:
            return
        ref = UpdateRef("MESSAGE_CREATE", str(message.id))
        outcome = await self._updates.handle(ref, lambda: self._posted(message))
        if outcome is Outcome.UNSTORED:
            # The poster's remembered language is in the database, which is away.
            guild = message.guild
            language = language_of(str(guild.preferred_locale) if guild else None)
            spec = _spec_of(message, language)
            await self._answers.deliver(spec, Reply(t("upload.unstored")), None)

    async def _posted(self, message: discord.Message) -> None:
        language = await language_for(self._core, user_ref(message.author), message.guild)
        spec = _spec_of(message, language)
        reply = await self._core.intake.posted(spec)
        if reply is not None:
            await self._answers.deliver(spec, reply, None)


def _spec_of(message: discord.Message, language: Language) -> JobSpec:
    """A job for the message's attachments, answered by replying to it."""
    user = user_ref(message.author)
    chat = chat_ref(message.channel.id, message.guild.id if message.guild else None)
    files = tuple(file_ref(attachment, message) for attachment in message.attachments)
    answer = AnswerTarget(reply_to=str(message.id))
    return JobSpec(user, chat, language, files, message.content or None, answer=answer)


async def _either(ctx: Context) -> Reply:
    return Reply(t("discord.upload.either"), visibility=Visibility.USER_ONLY)


async def _close_unanswered(interaction: discord.Interaction) -> None:
    """An interaction the core left unanswered (someone refused earlier today) still needs a
    response, or Discord shows "the application did not respond": a private one, at once gone."""
    if interaction.response.is_done():
        return
    await interaction.response.defer(ephemeral=True)
    await interaction.delete_original_response()


async def _defer(interaction: discord.Interaction, spec: JobSpec, reply_to: int | None) -> JobSpec:
    """Acknowledges publicly; the job answers by editing that deferred response."""
    callback = await interaction.response.defer(thinking=True)
    original = callback.message_id if callback is not None else None
    handle = InteractionRef.of(interaction, original).handle()
    answer = AnswerTarget(None if reply_to is None else str(reply_to), handle)
    return replace(spec, answer=answer)

"""Attachments in, durable jobs out, through the core's Intake: /upload, the menu, messages.

An interaction must choose at once whether its response is public (the upload's
answer) or ephemeral (a refusal): Discord gives a deferred response's first
follow-up the deferral's visibility. So Intake decides first, and defers
(publicly) only a request that becomes a job; a refusal is answered ephemerally.
"""

from __future__ import annotations

from dataclasses import replace

import discord

from adapters.discord_.handler import DiscordJobs
from adapters.discord_.identity import chat_ref, context_of, language_for, user_ref
from adapters.discord_.messages import InteractionReplies
from adapters.discord_.refs import AnswerRef, AttachmentRef
from bot.app import Core
from bot.domain import UploadOptions, Visibility
from bot.jobs import JobSpec


class Uploads:
    """Makes one job per request or message; explicit requests are always answered."""

    def __init__(self, core: Core, jobs: DiscordJobs) -> None:
        self._core = core
        self._jobs = jobs

    async def from_interaction(
        self,
        interaction: discord.Interaction,
        refs: list[AttachmentRef],
        *,
        caption: str | None = None,
        options: UploadOptions | None = None,
        reply_to: int | None = None,
    ) -> None:
        """Refuses at once (ephemeral), or defers publicly and submits; the job answers later."""
        ctx = await context_of(interaction, self._core.store)
        items, options = [ref.to_json() for ref in refs], options or UploadOptions()
        spec = JobSpec(ctx.user, ctx.chat, ctx.language, items, caption, options, ephemeral=True)

        async def defer(accepted: JobSpec) -> JobSpec:
            return await self._defer(interaction, accepted, reply_to)

        refusal = await self._core.intake.requested(spec, self._jobs.media(spec), accept=defer)
        if refusal is not None:
            replies = InteractionReplies(interaction, ctx.language)
            await replies.send(replace(refusal, visibility=Visibility.USER_ONLY))

    @staticmethod
    async def _defer(
        interaction: discord.Interaction, spec: JobSpec, reply_to: int | None
    ) -> JobSpec:
        """Acknowledges publicly; the job answers by editing that deferred response."""
        callback = await interaction.response.defer(thinking=True)
        original = callback.message_id if callback is not None else None
        answer = AnswerRef.of_interaction(interaction, original, reply_to)
        return replace(spec, answer=answer.to_json())

    async def from_message(self, message: discord.Message) -> None:
        """A DM's attachments, or a mirrored channel's: one job, answered by replying to them."""
        # Bots (this one included) and webhooks have no one to send a delete link to.
        if message.author.bot or message.webhook_id is not None or not message.attachments:
            return
        user = user_ref(message.author)
        chat = chat_ref(message.channel.id, message.guild.id if message.guild else None)
        language = await language_for(self._core.store, user, message.guild)
        refs = [
            AttachmentRef.of(attachment, message).to_json() for attachment in message.attachments
        ]
        answer = AnswerRef.of_message(message).to_json()
        spec = JobSpec(user, chat, language, refs, message.content or None, answer=answer)
        reply = await self._core.intake.posted(spec, self._jobs.media(spec))
        if reply is not None:
            await self._jobs.send(spec, reply)

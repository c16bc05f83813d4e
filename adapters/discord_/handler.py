"""The job handler: a job's attachments, and its answers sent where they belong.

Routes, in order: a PRIVATE_TO_USER reply goes by DM; while the interaction's
token lives, everything else goes on the interaction (ephemeral unless PUBLIC);
after that, a public reply goes to the channel, replying to the source message,
and a reply for the user alone goes by DM (or in the DM it came from). A reply
holding a delete link therefore never reaches a guild channel.
"""

from __future__ import annotations

import logging
import time
from functools import partial

import discord

from adapters.discord_.downloads import ClientSource, fetch_attachment
from adapters.discord_.messages import Piece, is_ephemeral, pieces, plain, send_dm
from adapters.discord_.refs import AnswerRef, AttachmentRef, InteractionRef
from bot.domain import IncomingMedia, Reply, Text, Visibility
from bot.jobs import JobSpec

log = logging.getLogger(__name__)

TOKEN_LIFETIME_S = 15 * 60
TOKEN_GONE = frozenset({10015, 50027})
"""Discord's codes for an unknown webhook and an invalid (expired) webhook token."""


def _dm_route(spec: JobSpec, reply: Reply) -> bool:
    """Outside a live interaction: does this reply go by DM rather than to the channel?"""
    if reply.visibility is Visibility.PRIVATE_TO_USER:
        return True
    return is_ephemeral(reply) and not spec.chat.is_private


def _token_gone(error: discord.HTTPException) -> bool:
    return isinstance(error, discord.NotFound) or error.code in TOKEN_GONE


def _webhook(client: discord.Client, interaction: InteractionRef) -> discord.Webhook:
    """The interaction's follow-up webhook, rebuilt from its stored application id and token."""
    webhook = discord.Webhook.partial(interaction.application_id, interaction.token, client=client)
    # An interaction's webhook is an application webhook: only those send ephemeral messages.
    webhook.type = discord.WebhookType.application
    return webhook


async def _post(
    channel: discord.PartialMessageable, piece: Piece, answer: AnswerRef
) -> discord.Message:
    """Sends to the channel, replying to the answer's source message when there is one."""
    content, view, secret = piece.content, piece.view, piece.secret
    if answer.reply_to is None:
        return await channel.send(content, view=view, suppress_embeds=secret)
    reference = discord.MessageReference(
        message_id=answer.reply_to, channel_id=answer.channel_id, fail_if_not_exists=False
    )
    return await channel.send(content, view=view, suppress_embeds=secret, reference=reference)


class DiscordJobs:
    """The core's JobHandler for Discord."""

    def __init__(self, client: ClientSource) -> None:
        self._client = client
        self._answered: dict[str, float] = {}
        self._status: dict[AnswerRef, discord.Message] = {}

    def media(self, spec: JobSpec) -> list[IncomingMedia]:
        return [self._media(spec, AttachmentRef.from_json(item)) for item in spec.items]

    def _media(self, spec: JobSpec, ref: AttachmentRef) -> IncomingMedia:
        fetch = partial(fetch_attachment, self._client, ref)
        return IncomingMedia(
            *(spec.user, spec.chat, ref.kind, ref.filename, ref.content_type, ref.size, fetch),
            caption=spec.caption,
            options=spec.options,
        )

    async def send(self, spec: JobSpec, reply: Reply) -> bool:
        client = await self._client()
        answer = AnswerRef.from_json(spec.answer)
        interaction = answer.live_interaction()
        if interaction is not None and reply.visibility is not Visibility.PRIVATE_TO_USER:
            try:
                await self._on_interaction(client, interaction, pieces(reply, spec.language))
            except discord.HTTPException as error:
                if not _token_gone(error):
                    raise
                log.info("an interaction's token expired before its answer; answering outside it")
            else:
                return True
        if _dm_route(spec, reply):
            return await send_dm(client, int(spec.user.id), reply, spec.language)
        await self._in_channel(client, answer, pieces(reply, spec.language))
        return True

    async def progress(self, spec: JobSpec, text: Text) -> None:
        """Edits the deferred response, or the job's status message in the channel."""
        client = await self._client()
        answer = AnswerRef.from_json(spec.answer)
        content = plain(text, spec.language)
        interaction = answer.live_interaction()
        if interaction is not None and interaction.original_id is not None:
            await _webhook(client, interaction).edit_message(
                interaction.original_id, content=content
            )
        elif answer in self._status:
            self._status[answer] = await self._status[answer].edit(content=content)
        else:
            channel = client.get_partial_messageable(answer.channel_id)
            self._status[answer] = await _post(channel, Piece(content, discord.ui.View()), answer)

    async def _on_interaction(
        self, client: discord.Client, interaction: InteractionRef, parts: list[Piece]
    ) -> None:
        """A public reply fills the deferred response once; the rest are follow-ups."""
        webhook = _webhook(client, interaction)
        ephemeral = parts[0].ephemeral
        original = None if ephemeral else self._unanswered_original(interaction)
        if original is not None:
            first, *parts = parts
            await webhook.edit_message(original, content=first.content, view=first.view)
        for part in parts:
            await webhook.send(
                part.content,
                view=part.view,
                ephemeral=ephemeral,
                suppress_embeds=part.secret,
                wait=True,
            )

    def _unanswered_original(self, interaction: InteractionRef) -> int | None:
        """The deferred response, the first time only: it takes the first public answer."""
        now = time.monotonic()
        self._answered = {t: at for t, at in self._answered.items() if now - at < TOKEN_LIFETIME_S}
        first = interaction.token not in self._answered
        self._answered[interaction.token] = now
        return interaction.original_id if first else None

    async def _in_channel(
        self, client: discord.Client, answer: AnswerRef, parts: list[Piece]
    ) -> None:
        """Replaces the job's status message with the first piece, if it showed one."""
        status = None if parts[0].secret else self._status.pop(answer, None)
        if status is not None:
            first, *parts = parts
            await status.edit(content=first.content, view=first.view)
        channel = client.get_partial_messageable(answer.channel_id)
        for part in parts:
            await _post(channel, part, answer)

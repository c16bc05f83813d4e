"""The core's replies sent on Discord: on the interaction, in the channel, or by DM.

A command's replies go on its live interaction (:class:`InteractionReplies`). A
job's go, in order (:class:`JobAnswers`): PRIVATE_TO_USER by DM; while the
interaction's token lives, everything else on the interaction (ephemeral unless
PUBLIC); after that, a public reply to the channel, replying to the source
message, and a reply for the user alone by DM (or in the DM it came from). A
reply holding a delete link therefore never reaches a guild channel, and goes
with embeds suppressed: a link preview would fetch it, and it deletes on a GET.
Such a reply never takes the place of a status message or a deferred response by
editing it (an edit's new text could be previewed before its flags apply, and an
interaction's original response cannot be made ephemeral): in a DM (one answer, delete
link included) it is sent anew, embeds suppressed, and the message it replaces is
deleted. Mentions are off on the client, so ``@everyone.png`` pings no one.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from dataclasses import asdict, dataclass

import discord

from adapters.discord.files import ClientSource
from adapters.discord.views import Piece, is_ephemeral, pieces, plain
from bot.domain import Reply, Text, Visibility
from bot.payloads import JobSpec
from bot.texts import Language, error_text, language_of

log = logging.getLogger(__name__)

CLOSED_DMS = 50007
"""Discord's code for "Cannot send messages to this user"."""
TOKEN_MARGIN_S = 60.0
"""An interaction token is treated as expired this long before Discord expires it."""
TOKEN_LIFETIME_S = 15 * 60
TOKEN_GONE = frozenset({10015, 50027})
"""Discord's codes for an unknown webhook and an invalid (expired) webhook token."""


@dataclass(frozen=True, slots=True)
class InteractionRef:
    """An interaction's webhook, usable until its token expires (15 minutes after the command);
    a job keeps it, as JSON, in its ``AnswerTarget.handle``."""

    application_id: int
    token: str
    original_id: int | None
    """The deferred response: progress edits it, and the public answer replaces it."""
    expires: float

    @classmethod
    def of(cls, interaction: discord.Interaction, original_id: int | None) -> InteractionRef:
        expires = interaction.expires_at.timestamp() - TOKEN_MARGIN_S
        return cls(interaction.application_id, interaction.token, original_id, expires)

    def handle(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def live(cls, handle: str | None) -> InteractionRef | None:
        """The interaction a job's handle names, while its token lives."""
        ref = None if handle is None else cls(**json.loads(handle))
        return ref if ref is not None and time.time() < ref.expires else None


def attached(reply: Reply) -> discord.File | None:
    """The reply's file (a backfill's CSV), as discord.py sends one."""
    if reply.attachment is None:
        return None
    return discord.File(io.BytesIO(reply.attachment.data), filename=reply.attachment.name)


async def send_dm(client: discord.Client, user_id: int, reply: Reply, language: Language) -> bool:
    """Sends a reply to the user's DM; False when the user accepts no DM from the bot."""
    return await report_dm(client, user_id, reply, language, None) is not None


async def report_dm(
    client: discord.Client, user_id: int, reply: Reply, language: Language, handle: str | None
) -> str | None:
    """Sends a reply to the user's DM, or edits the DM message ``handle`` into it (one with a
    file is sent anew); the last message's id, or None when the user accepts no DM."""
    try:
        channel = await client.create_dm(discord.Object(user_id))
        *first, last = pieces(reply, language)
        file = attached(reply)
        if handle is not None and not first and file is None:
            with contextlib.suppress(discord.NotFound):  # deleted: sent anew below
                edited = await channel.get_partial_message(int(handle)).edit(
                    content=last.content, view=last.view
                )
                return str(edited.id)
        for piece in first:
            await channel.send(piece.content, view=piece.view, suppress_embeds=piece.secret)
        files = [] if file is None else [file]
        sent = await channel.send(
            last.content, view=last.view, suppress_embeds=last.secret, files=files
        )
    except discord.HTTPException as error:
        if isinstance(error, discord.Forbidden) or error.code == CLOSED_DMS:
            return None
        raise
    return str(sent.id)


class InteractionReplies:
    """Sends a command's replies on its interaction: the first fills the response, others follow.

    A deferred response is filled by editing it, except with a secret reply,
    which goes in its own follow-up so that its embeds can be suppressed.
    """

    def __init__(self, interaction: discord.Interaction, language: Language) -> None:
        self._interaction = interaction
        self._language = language
        self._filled = False

    async def send(self, reply: Reply) -> bool:
        if reply.visibility is Visibility.PRIVATE_TO_USER:
            client, user = self._interaction.client, self._interaction.user
            return await send_dm(client, user.id, reply, self._language)
        *first, last = pieces(reply, self._language)
        for piece in first:
            await self._one(piece)
        await self._one(last, attached(reply))
        return True

    async def _one(self, piece: Piece, file: discord.File | None = None) -> None:
        """One piece; a file goes with a message of its own (an edit cannot add one)."""
        interaction, response = self._interaction, self._interaction.response
        content, view, secret, ephemeral = piece.content, piece.view, piece.secret, piece.ephemeral
        files = [] if file is None else [file]
        if not response.is_done():
            await response.send_message(
                content, view=view, ephemeral=ephemeral, suppress_embeds=secret, files=files
            )
        elif not self._filled and not secret and file is None:
            await interaction.edit_original_response(content=content, view=view)
        else:
            await interaction.followup.send(
                content, view=view, ephemeral=ephemeral, suppress_embeds=secret, files=files
            )
        self._filled = True


async def answer_error(interaction: discord.Interaction, error: BaseException) -> None:
    """A failed command as one ephemeral sentence; an unexpected error is logged with an id."""
    content = plain(error_text(error), language_of(str(interaction.locale)))
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=True)
    else:
        await interaction.response.send_message(content, ephemeral=True)


def _dm_route(job: JobSpec, reply: Reply) -> bool:
    """Outside a live interaction: does this reply go by DM rather than to the channel?"""
    if reply.visibility is Visibility.PRIVATE_TO_USER:
        return True
    return is_ephemeral(reply) and not job.chat.is_private


def _token_gone(error: discord.HTTPException) -> bool:
    return isinstance(error, discord.NotFound) or error.code in TOKEN_GONE


def _webhook(client: discord.Client, interaction: InteractionRef) -> discord.Webhook:
    """The interaction's follow-up webhook, rebuilt from its stored application id and token."""
    webhook = discord.Webhook.partial(interaction.application_id, interaction.token, client=client)
    # An interaction's webhook is an application webhook: only those send ephemeral messages.
    webhook.type = discord.WebhookType.application
    return webhook


async def _post(
    channel: discord.PartialMessageable, piece: Piece, reply_to: str | None
) -> discord.Message:
    """Sends to the channel, replying to the job's source message when it has one."""
    content, view, secret = piece.content, piece.view, piece.secret
    if reply_to is None:
        return await channel.send(content, view=view, suppress_embeds=secret)
    reference = discord.MessageReference(
        message_id=int(reply_to), channel_id=channel.id, fail_if_not_exists=False
    )
    return await channel.send(content, view=view, suppress_embeds=secret, reference=reference)


class JobAnswers:
    """A job's answers and its status message (the adapter's ``deliver`` and ``progress``).

    While the interaction's token lives, the status is its deferred response. Otherwise it
    is a message in the job's channel, named by its id (``status``): the core keeps it in the
    job, so any process edits it.
    """

    def __init__(self, client: ClientSource) -> None:
        self._client = client
        self._answered: dict[str, float] = {}

    async def deliver(self, job: JobSpec, reply: Reply, status: str | None) -> bool:
        client = await self._client()
        interaction = InteractionRef.live(job.answer.handle)
        if interaction is not None and reply.visibility is not Visibility.PRIVATE_TO_USER:
            try:
                parts = pieces(reply, job.language)
                await self._on_interaction(client, interaction, parts, job.chat.is_private)
            except discord.HTTPException as error:
                if not _token_gone(error):
                    raise
                log.info("an interaction's token expired before its answer; answering outside it")
            else:
                return True
        if _dm_route(job, reply):
            return await send_dm(client, int(job.user.id), reply, job.language)
        await self._in_channel(client, job, pieces(reply, job.language), status)
        return True

    async def progress(self, job: JobSpec, text: Text, status: str | None) -> str | None:
        """Edits the deferred response (None: the interaction names it), or the job's status
        message in the channel, posting one first if there is none (its id)."""
        client = await self._client()
        content = plain(text, job.language)
        interaction = InteractionRef.live(job.answer.handle)
        if interaction is not None and interaction.original_id is not None:
            await _webhook(client, interaction).edit_message(
                interaction.original_id, content=content
            )
            return None
        channel = client.get_partial_messageable(int(job.chat.id))
        if status is not None:
            try:
                await channel.get_partial_message(int(status)).edit(content=content)
            except discord.NotFound:  # deleted: show a new one
                pass
            else:
                return status
        message = await _post(channel, Piece(content, discord.ui.View()), job.answer.reply_to)
        return str(message.id)

    async def _on_interaction(
        self,
        client: discord.Client,
        interaction: InteractionRef,
        parts: list[Piece],
        private: bool,
    ) -> None:
        """A public reply fills the deferred response once; the rest are follow-ups. In a DM
        the one answer, delete link included, takes the deferred response's place: that is
        deleted first, as a first follow-up would otherwise become it, embeds and all."""
        webhook = _webhook(client, interaction)
        ephemeral = parts[0].ephemeral
        if not ephemeral:
            original = self._unanswered_original(interaction)
            if original is not None:
                first, *parts = parts
                await webhook.edit_message(original, content=first.content, view=first.view)
        elif private and parts[0].secret:
            original = self._unanswered_original(interaction)
            if original is not None:
                with contextlib.suppress(discord.NotFound):  # deleted by an earlier try
                    await webhook.delete_message(original)
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
        self, client: discord.Client, job: JobSpec, parts: list[Piece], status: str | None
    ) -> None:
        """Replaces the job's status message, if it showed one that is still there, with the
        first piece; a secret answer (a DM's) is posted anew and the status deleted."""
        channel = client.get_partial_messageable(int(job.chat.id))
        if status is not None and not parts[0].secret:
            first = parts[0]
            with contextlib.suppress(discord.NotFound):
                await channel.get_partial_message(int(status)).edit(
                    content=first.content, view=first.view
                )
                parts = parts[1:]
            status = None
        for part in parts:
            await _post(channel, part, job.answer.reply_to)
        if status is not None:
            with contextlib.suppress(discord.NotFound):  # deleted already
                await channel.get_partial_message(int(status)).delete()

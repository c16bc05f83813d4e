"""The core's replies as Discord messages: plain text, split to fit, with their buttons.

Texts are rendered as plain text (markdown escaped, links left alone), so a
file named ``my_cat_.png`` shows as typed. Mentions are turned off on the
client, so ``@everyone.png`` pings no one. A secret reply (one holding a
delete link, which deletes on a plain GET) is always sent with embeds
suppressed: a link preview would fetch it.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from adapters.discord_.views import build_view
from bot.domain import Reply, Text, Visibility
from bot.texts import Language, error_text, language_of, render

MESSAGE_MAX = 2000
CLOSED_DMS = 50007
"""Discord's code for "Cannot send messages to this user"."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One Discord message of a reply; only the last one carries the buttons."""

    content: str
    view: discord.ui.View
    secret: bool = False
    """Holds a delete link: sent with embeds suppressed, never into a guild channel."""
    ephemeral: bool = False
    """For the user's eyes only: ephemeral on an interaction."""


def plain(text: Text, language: Language) -> str:
    return discord.utils.escape_markdown(render(text, language))


def split(text: str, limit: int = MESSAGE_MAX) -> list[str]:
    """Chunks of at most ``limit`` characters, cut between lines where possible."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        cut = range(0, len(line), limit)
        *whole, current = [line[start : start + limit] for start in cut] or [""]
        chunks += whole
    return [*chunks, current]


def is_ephemeral(reply: Reply) -> bool:
    return reply.visibility is not Visibility.PUBLIC or reply.secret


def pieces(reply: Reply, language: Language) -> list[Piece]:
    chunks = split(plain(reply.text, language))
    views = [discord.ui.View() for _ in chunks[:-1]] + [build_view(reply.buttons, language)]
    flags = (reply.secret, is_ephemeral(reply))
    return [Piece(chunk, view, *flags) for chunk, view in zip(chunks, views, strict=True)]


async def send_dm(client: discord.Client, user_id: int, reply: Reply, language: Language) -> bool:
    """Sends a reply to the user's DM; False when the user accepts no DM from the bot."""
    try:
        channel = await client.create_dm(discord.Object(user_id))
        for piece in pieces(reply, language):
            await channel.send(piece.content, view=piece.view, suppress_embeds=piece.secret)
    except discord.HTTPException as error:
        if isinstance(error, discord.Forbidden) or error.code == CLOSED_DMS:
            return False
        raise
    return True


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
        for piece in pieces(reply, self._language):
            await self._one(piece)
        return True

    async def _one(self, piece: Piece) -> None:
        interaction, response = self._interaction, self._interaction.response
        content, view, secret, ephemeral = piece.content, piece.view, piece.secret, piece.ephemeral
        if not response.is_done():
            await response.send_message(
                content, view=view, ephemeral=ephemeral, suppress_embeds=secret
            )
        elif not self._filled and not secret:
            await interaction.edit_original_response(content=content, view=view)
        else:
            await interaction.followup.send(
                content, view=view, ephemeral=ephemeral, suppress_embeds=secret
            )
        self._filled = True


async def answer_error(interaction: discord.Interaction, error: BaseException) -> None:
    """A failed command as one ephemeral sentence; an unexpected error is logged with an id."""
    content = plain(error_text(error), language_of(str(interaction.locale)))
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=True)
    else:
        await interaction.response.send_message(content, ephemeral=True)

"""What a job stores to find its files and its answer again, as plain JSON.

A job may run long after the event that made it (a restart, a host outage), so
it keeps ids rather than live discord.py objects: an attachment's message (to
ask Discord for a fresh CDN URL) and the interaction's webhook token (valid 15
minutes) with the channel to fall back on once the token has expired.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import discord

from adapters.discord_.identity import channel_id_of
from bot.domain import MediaKind, media_kind

TOKEN_MARGIN_S = 60.0
"""An interaction token is treated as expired this long before Discord expires it."""


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """One attachment: its message when it has one, else only its short-lived signed URL.

    An attachment given as an ``/upload`` option lives on no message: its job runs
    at once, and it cannot be fetched again once its URL has expired.
    """

    id: int
    filename: str
    content_type: str | None
    size: int
    url: str
    channel_id: int | None = None
    message_id: int | None = None

    @classmethod
    def of(
        cls, attachment: discord.Attachment, message: discord.Message | None = None
    ) -> AttachmentRef:
        return cls(
            attachment.id,
            attachment.filename,
            attachment.content_type,
            attachment.size,
            attachment.url,
            message.channel.id if message else None,
            message.id if message else None,
        )

    @property
    def kind(self) -> MediaKind | None:
        return media_kind(self.content_type)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttachmentRef:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class InteractionRef:
    """An interaction's webhook, usable until its token expires (15 minutes after the command)."""

    application_id: int
    token: str
    original_id: int | None
    """The deferred response: progress edits it, and the public answer replaces it."""
    expires: float

    def alive(self) -> bool:
        return time.time() < self.expires


@dataclass(frozen=True, slots=True)
class AnswerRef:
    """Where a job answers: the interaction while its token lives, else the channel (or a DM)."""

    channel_id: int
    reply_to: int | None = None
    """The message the answer replies to in the channel (the mirrored post, the menu's target)."""
    interaction: InteractionRef | None = None

    @classmethod
    def of_interaction(
        cls, interaction: discord.Interaction, original_id: int | None, reply_to: int | None
    ) -> AnswerRef:
        expires = interaction.expires_at.timestamp() - TOKEN_MARGIN_S
        webhook = InteractionRef(
            interaction.application_id, interaction.token, original_id, expires
        )
        return cls(channel_id_of(interaction), reply_to, webhook)

    @classmethod
    def of_message(cls, message: discord.Message) -> AnswerRef:
        return cls(channel_id=message.channel.id, reply_to=message.id)

    def live_interaction(self) -> InteractionRef | None:
        return self.interaction if self.interaction and self.interaction.alive() else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnswerRef:
        interaction = data.get("interaction")
        return cls(
            data["channel_id"],
            data.get("reply_to"),
            InteractionRef(**interaction) if interaction else None,
        )

"""What a platform gives for a backfill: a channel's past messages, and private reports to the
admin who started one. A platform without it (one whose bots cannot read a chat's past) has no
backfill; the core asks with ``isinstance(platform, ChannelHistory)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.domain import ChatRef, Reply, UserRef
from bot.payloads import FileRef
from bot.texts import Language


@dataclass(frozen=True, slots=True)
class PostedFile:
    """One attachment of a past message: its id, the file (its ``source`` set), its link as posted
    (without an expiring query: what the CSV maps from), and whether it was hidden as a
    spoiler."""

    id: str
    file: FileRef
    url: str
    spoiler: bool = False


@dataclass(frozen=True, slots=True)
class PostedMessage:
    """A past message: its id (opaque, ordered by the platform), its link and time, whether a
    bot posted it, its text with mentions written as names, and its attachments."""

    id: str
    url: str
    posted_at: datetime
    by_bot: bool
    text: str
    files: tuple[PostedFile, ...]


@runtime_checkable
class ChannelHistory(Protocol):
    """A platform whose bots can read a channel's past."""

    async def history(
        self, channel: ChatRef, *, after: str | None, before: str, limit: int
    ) -> list[PostedMessage]:
        """At most ``limit`` (up to 100) messages of ``channel`` after ``after`` (None: from
        its start) and before ``before``, oldest first. Rate limits are waited out."""
        ...

    async def report(
        self, user: UserRef, reply: Reply, language: Language, handle: str | None
    ) -> str | None:
        """Sends ``reply`` to the user privately, or edits the message ``handle`` into it (a
        reply with an attachment is always sent anew); its handle, or None when the user
        cannot be reached there."""
        ...

"""Attachments as the core's FileRefs, and streamed from Discord's CDN when a job runs.

A job may run long after its message (a restart, a host outage), so a FileRef's
locator keeps ids, not a discord.py object: the attachment's signed CDN URL and,
when it has one, its message, to ask Discord for a fresh URL once that one has
expired. An attachment given as an ``/upload`` option lives on no message: its
job runs at once, and it cannot be fetched again once its URL has expired.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass

import aiohttp
import discord

from bot.domain import media_type
from bot.errors import MediaUnavailable, SourceUnavailable
from bot.payloads import FileRef

CHUNK = 256 * 1024
TIMEOUT = aiohttp.ClientTimeout(total=None, connect=30, sock_read=60)
GONE = frozenset({403, 404, 410})
"""What the CDN answers for an expired signed URL or a deleted file."""

ClientSource = Callable[[], Awaitable[discord.Client]]
"""The logged-in client, awaited: a job may resume before the first login."""


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """What a FileRef's locator holds: the attachment, its URL, and its message if any."""

    id: int
    url: str
    channel_id: int | None = None
    message_id: int | None = None

    def locator(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def of_locator(cls, locator: str) -> AttachmentRef:
        return cls(**json.loads(locator))


def file_ref(attachment: discord.Attachment, message: discord.Message | None = None) -> FileRef:
    """The attachment as the core sees it; ``message`` is the one it was posted on."""
    ref = AttachmentRef(
        attachment.id,
        attachment.url,
        message.channel.id if message else None,
        message.id if message else None,
    )
    kind = media_type(attachment.content_type, attachment.filename)
    size = attachment.size
    source = None if message is None else f"{message.id}:{attachment.id}"
    return FileRef(
        attachment.filename, kind, size, ref.locator(), width=attachment.width, source=source
    )


async def fetch(client: ClientSource, file: FileRef) -> AsyncIterator[bytes]:
    """The stored URL first (a job usually runs at once), else a fresh one from its message
    (the CDN refuses an expired one before any byte, so nothing is sent twice)."""
    ref = AttachmentRef.of_locator(file.locator)
    try:
        async for chunk in download(ref.url):
            yield chunk
        return
    except MediaUnavailable:
        if ref.channel_id is None or ref.message_id is None:
            raise
    url = await _fresh_url(await client(), ref.channel_id, ref.message_id, ref.id)
    async for chunk in download(url):
        yield chunk


async def download(url: str) -> AsyncIterator[bytes]:
    """Streams ``url``: memory holds one chunk at a time, whatever the size.

    A CDN that is down or cut off is SourceUnavailable, so the job tries again later.
    """
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.get(url) as response:
            if response.status in GONE:
                raise MediaUnavailable(f"the CDN answered {response.status}")
            if response.status != 200:
                raise SourceUnavailable(f"the CDN answered {response.status}")
            async for chunk in response.content.iter_chunked(CHUNK):
                yield chunk
    except (aiohttp.ClientError, TimeoutError):
        raise SourceUnavailable("the Discord CDN could not be reached") from None


async def _fresh_url(
    client: discord.Client, channel_id: int, message_id: int, attachment_id: int
) -> str:
    try:
        message = await client.get_partial_messageable(channel_id).fetch_message(message_id)
    except discord.NotFound as error:
        raise MediaUnavailable("the message is gone") from error
    found = next((a for a in message.attachments if a.id == attachment_id), None)
    if found is None:
        raise MediaUnavailable("the attachment is no longer on its message")
    return found.url

"""Attachments streamed from Discord's CDN to the file the core hands over."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import discord

from adapters.discord_.refs import AttachmentRef
from bot.errors import MediaUnavailable, SourceUnavailable

CHUNK = 256 * 1024
TIMEOUT = aiohttp.ClientTimeout(total=None, connect=30, sock_read=60)
GONE = frozenset({403, 404, 410})
"""What the CDN answers for an expired signed URL or a deleted file."""

ClientSource = Callable[[], Awaitable[discord.Client]]


async def download(url: str, path: Path) -> None:
    """Streams ``url`` to ``path``: memory holds one chunk at a time, whatever the size.

    A CDN that is down or cut off is SourceUnavailable, so the job tries again later.
    """
    try:
        await _stream(url, path)
    except (aiohttp.ClientError, TimeoutError):
        raise SourceUnavailable("the Discord CDN could not be reached") from None


async def _stream(url: str, path: Path) -> None:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.get(url) as response:
        if response.status in GONE:
            raise MediaUnavailable(f"the CDN answered {response.status}")
        if response.status != 200:
            raise SourceUnavailable(f"the CDN answered {response.status}")
        handle = await asyncio.to_thread(path.open, "wb")
        try:
            async for chunk in response.content.iter_chunked(CHUNK):
                await asyncio.to_thread(handle.write, chunk)
        finally:
            await asyncio.to_thread(handle.close)


async def fetch_attachment(client: ClientSource, ref: AttachmentRef, path: Path) -> None:
    """The stored URL first (a job usually runs at once), else a fresh one from its message."""
    try:
        await download(ref.url, path)
    except MediaUnavailable:
        if ref.channel_id is None or ref.message_id is None:
            raise
        url = await _fresh_url(await client(), ref.channel_id, ref.message_id, ref.id)
        await download(url, path)


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

"""Telegram messages as files: which attachment, its name and type, and how to fetch it again.

A job keeps only the ``file_id`` as its ``FileRef.locator`` (never the file URL,
which holds the bot token); the bytes are fetched through ``getFile`` and streamed
to disk when the job runs.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import httpx
from telegram import Bot, Message
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.domain import media_kind, media_type
from bot.errors import MediaTooLarge, SourceUnavailable
from bot.payloads import FileRef
from bot.tls import tls_context

CHUNK = 256 * 1024
VIDEOS = ("video", "animation", "video_note")
"""A message's video-like attachments; a name made for one starts with its attribute."""


def file_of(message: Message) -> FileRef | None:
    """The message's one file (the largest photo size), or None when it carries none."""
    if message.photo:
        photo = message.photo[-1]
        name = f"photo_{photo.file_unique_id}.jpg"
        return FileRef(name, "image/jpeg", photo.file_size, photo.file_id, width=photo.width)
    for attribute in VIDEOS:
        attachment = getattr(message, attribute)
        if attachment is not None:
            made = f"{attribute}_{attachment.file_unique_id}.mp4"
            name = getattr(attachment, "file_name", None) or made
            declared = getattr(attachment, "mime_type", None)
            # Telegram says it is a video (or a GIF animation): never send it as anything else.
            kind = declared if media_kind(declared) is not None else "video/mp4"
            return FileRef(name, kind, attachment.file_size, attachment.file_id)
    document = message.document
    if document is not None:
        name = document.file_name or f"file_{document.file_unique_id}"
        kind = media_type(document.mime_type, name)
        return FileRef(name, kind, document.file_size, document.file_id)
    return None


class Downloader:
    """Fetches a file by its id: getFile, then a streamed GET (or a copy in local mode)."""

    def __init__(self, bot: Bot, limit_mb: int) -> None:
        self._bot = bot
        self._limit_mb = limit_mb
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=10.0), verify=tls_context()
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch(self, ref: FileRef) -> AsyncIterator[bytes]:
        """The file's bytes as they come: getFile, then a streamed GET, or in local mode
        the file the Bot API server already has on this machine's disk."""
        location = await self._locate(ref)
        chunks = _read_local(location) if _is_local(location) else self._stream(location)
        async for chunk in chunks:
            yield chunk

    async def _locate(self, ref: FileRef) -> str:
        try:
            file = await self._bot.get_file(ref.locator)
        except BadRequest as error:
            if "too big" in error.message.lower():
                raise MediaTooLarge(self._limit_mb) from None
            raise SourceUnavailable("Telegram refused getFile") from None
        except TelegramError:
            raise SourceUnavailable("Telegram getFile failed") from None
        return file.file_path or ""

    async def _stream(self, url: str) -> AsyncIterator[bytes]:
        """The URL holds the bot token: it is used here and nowhere else, never logged."""
        try:
            async with self._http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise SourceUnavailable(f"file download answered {response.status_code}")
                async for chunk in response.aiter_bytes():
                    yield chunk
        except (httpx.HTTPError, NetworkError):
            raise SourceUnavailable("file download failed") from None


def _is_local(location: str) -> bool:
    return os.path.isabs(location) and os.path.isfile(location)


async def _read_local(path: str) -> AsyncIterator[bytes]:
    """A local Bot API server's file, read in a thread chunk by chunk (it may be 2 GB)."""
    try:
        handle = await asyncio.to_thread(open, path, "rb")
    except OSError:
        raise SourceUnavailable("the local file could not be opened") from None
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk
    finally:
        handle.close()

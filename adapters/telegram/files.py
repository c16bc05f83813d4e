"""Telegram messages as files: which attachment, its name and type, and how to fetch it again.

A job keeps only the ``file_id`` as its ``FileRef.locator`` (never the file URL,
which holds the bot token); the bytes are fetched through ``getFile`` and streamed
to disk when the job runs.

What ``getFile`` answers is not trusted. Without local mode a file is only ever fetched
through the Bot API's file URL, whatever path the answer names (PTB leaves a path that
exists on this machine as it is: it is never read). In local mode the server hands out
paths on this machine's disk, which are read only inside ``LocalFiles``' folder.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from telegram import Bot, Message, Sticker
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.domain import media_kind, media_type
from bot.errors import MediaTooLarge, SourceRefused, SourceUnavailable
from bot.ops.tls import tls_context
from bot.payloads import FileRef

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
VIDEOS = ("video", "animation", "video_note")
"""A message's video-like attachments; a name made for one starts with its attribute."""


def file_of(message: Message) -> FileRef | None:
    """The message's one file (the largest photo size), or None when it carries none."""
    source = f"{message.chat.id}:{message.message_id}"
    if message.photo:
        photo = message.photo[-1]
        name = f"photo_{photo.file_unique_id}.jpg"
        return FileRef(
            name, "image/jpeg", photo.file_size, photo.file_id, width=photo.width, source=source
        )
    for attribute in VIDEOS:
        attachment = getattr(message, attribute)
        if attachment is not None:
            made = f"{attribute}_{attachment.file_unique_id}.mp4"
            name = getattr(attachment, "file_name", None) or made
            declared = getattr(attachment, "mime_type", None)
            # Telegram says it is a video (or a GIF animation): never send it as anything else.
            kind = declared if media_kind(declared) is not None else "video/mp4"
            return FileRef(name, kind, attachment.file_size, attachment.file_id, source=source)
    if message.sticker is not None:
        return _sticker(message.sticker, source)
    document = message.document
    if document is not None:
        name = document.file_name or f"file_{document.file_unique_id}"
        kind = media_type(document.mime_type, name)
        return FileRef(name, kind, document.file_size, document.file_id, source=source)
    return None


def _sticker(sticker: Sticker, source: str) -> FileRef:
    """A static sticker is a WebP image, a video sticker a WebM video; an animated one is a
    Lottie file (.tgs), which no image host shows: it has no media type, so it is refused."""
    if sticker.is_animated:
        name, kind, width = f"sticker_{sticker.file_unique_id}.tgs", None, None
    elif sticker.is_video:
        name, kind, width = f"sticker_{sticker.file_unique_id}.webm", "video/webm", None
    else:
        name, kind, width = f"sticker_{sticker.file_unique_id}.webp", "image/webp", sticker.width
    return FileRef(
        name, kind, sticker.file_size, sticker.file_id, width=width, source=source, sticker=True
    )


def sticker_title(message: Message) -> str | None:
    """A sticker's caption, which Telegram never gives one: its emoji and its set's name."""
    sticker = message.sticker
    if sticker is None:
        return None
    return " ".join(part for part in (sticker.emoji, sticker.set_name) if part) or None


@dataclass(frozen=True, slots=True)
class LocalFiles:
    """Where a local Bot API server's files may be read: under ``root`` (TELEGRAM_LOCAL_ROOT)
    when it is set, and never under ``data_dir`` (the bot's database and secrets)."""

    root: Path | None
    data_dir: Path

    def readable(self, location: str) -> Path:
        """The file at ``location``, symlinks and ``..`` resolved, if the bot may read it."""
        path = Path(location).resolve()
        allowed = (
            path.is_relative_to(self.root.resolve())
            if self.root is not None
            else not path.is_relative_to(self.data_dir.resolve())
        )
        if not allowed:
            log.warning("getFile named a path outside the folder the bot reads; not read")
            raise SourceRefused("a local path outside the allowed folder")
        return path


class Downloader:
    """Fetches a file by its id: getFile, then a streamed GET (or, in local mode, a read of the
    file the Bot API server keeps on this machine, inside ``local``'s folder)."""

    def __init__(self, bot: Bot, limit_mb: int, local: LocalFiles | None) -> None:
        self._bot = bot
        self._limit_mb = limit_mb
        self._local = local
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=10.0), verify=tls_context()
        )
        if local is not None and local.root is None:
            log.warning(
                "TELEGRAM_LOCAL_MODE is on without TELEGRAM_LOCAL_ROOT: set it to the folder of "
                "the telegram-bot-api server's files (its --dir), so that the bot reads files "
                "only there"
            )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch(self, ref: FileRef) -> AsyncIterator[bytes]:
        """The file's bytes as they come: getFile, then a streamed GET, or in local mode
        the file the Bot API server already has on this machine's disk."""
        location = await self._locate(ref)
        if self._local is not None and os.path.isabs(location):
            chunks = _read_local(self._local.readable(location))
        else:
            chunks = self._stream(self._url_of(location))
        async for chunk in chunks:
            yield chunk

    def _url_of(self, location: str) -> str:
        """The file URL of what getFile named: PTB already made it one, except for a path that
        exists on this machine, which it leaves as it is."""
        base = self._bot.base_file_url
        return location if location.startswith(base) else f"{base}/{location.lstrip('/')}"

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


async def _read_local(path: Path) -> AsyncIterator[bytes]:
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

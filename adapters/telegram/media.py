"""Telegram messages as files: which attachment, its name and type, and how to fetch it again.

A job keeps only the ``file_id`` (never the file URL, which holds the bot token);
the bytes are fetched through ``getFile`` and streamed to disk when the job runs.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from telegram import Bot, Message
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.domain import IncomingMedia, media_kind
from bot.errors import MediaTooLarge, SourceUnavailable
from bot.jobs import JobSpec
from bot.tls import tls_context

CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class FileItem:
    """What a job keeps of one Telegram file."""

    file_id: str
    filename: str
    content_type: str | None
    size: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
        }


def _guess(filename: str | None) -> str | None:
    return mimetypes.guess_type(filename)[0] if filename else None


def file_of(message: Message) -> FileItem | None:
    """The message's one file (the largest photo size), or None when it carries none."""
    if message.photo:
        photo = message.photo[-1]
        return FileItem(
            photo.file_id, f"photo_{photo.file_unique_id}.jpg", "image/jpeg", photo.file_size
        )
    for attachment, default_type, stem in (
        (message.video, "video/mp4", "video"),
        (message.animation, "video/mp4", "animation"),
        (message.video_note, "video/mp4", "video_note"),
    ):
        if attachment is not None:
            name = (
                getattr(attachment, "file_name", None) or f"{stem}_{attachment.file_unique_id}.mp4"
            )
            kind = getattr(attachment, "mime_type", None) or default_type
            return FileItem(attachment.file_id, name, kind, attachment.file_size)
    document = message.document
    if document is not None:
        name = document.file_name or f"file_{document.file_unique_id}"
        return FileItem(
            document.file_id, name, document.mime_type or _guess(name), document.file_size
        )
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

    async def fetch(self, file_id: str, path: Path) -> None:
        try:
            file = await self._bot.get_file(file_id)
        except BadRequest as error:
            if "too big" in error.message.lower():
                raise MediaTooLarge(self._limit_mb) from None
            raise SourceUnavailable("Telegram refused getFile") from None
        except TelegramError:
            raise SourceUnavailable("Telegram getFile failed") from None
        location = file.file_path or ""
        if os.path.isabs(location) and await asyncio.to_thread(os.path.isfile, location):
            await asyncio.to_thread(shutil.copyfile, location, path)
            return
        await self._stream(location, path)

    async def _stream(self, url: str, path: Path) -> None:
        """The URL holds the bot token: it is used here and nowhere else, never logged."""
        try:
            async with self._http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise SourceUnavailable(f"file download answered {response.status_code}")
                with path.open("wb") as out:
                    async for chunk in response.aiter_bytes(CHUNK):
                        out.write(chunk)
        except (httpx.HTTPError, NetworkError):
            raise SourceUnavailable("file download failed") from None


def medias_of(spec: JobSpec, downloader: Downloader) -> list[IncomingMedia]:
    """One IncomingMedia per file the job names, each fetched by its file_id when it runs."""

    def one(item: dict[str, Any]) -> IncomingMedia:
        async def fetch(path: Path) -> None:
            await downloader.fetch(item["file_id"], path)

        return IncomingMedia(
            spec.user,
            spec.chat,
            media_kind(item["content_type"]),
            item["filename"],
            item["content_type"],
            item["size"],
            fetch,
            spec.caption,
            spec.options,
        )

    return [one(item) for item in spec.items]

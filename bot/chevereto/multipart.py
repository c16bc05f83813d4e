"""The upload request's body: the option fields, and a multipart/form-data body whose file
part is streamed (from disk, or as it arrives from the platform) with its length known up
front, so the request has a Content-Length and memory holds one chunk at a time."""

from __future__ import annotations

import asyncio
import mimetypes
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.chevereto.expiration import parse_expiration
from bot.domain import UploadOptions

CHUNK_SIZE: Final = 256 * 1024

Progress = Callable[[int, int], Awaitable[None]]
"""Called with (bytes sent, total bytes) as the body goes out."""


@dataclass(frozen=True, slots=True)
class FileSource:
    """A file on disk, streamed to the host in chunks."""

    path: Path
    filename: str
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class StreamSource:
    """A file whose bytes arrive while it is sent: ``chunks`` yields exactly ``size`` bytes, or
    raises, which aborts the request so the host never stores a part of the file."""

    chunks: Callable[[], AsyncIterator[bytes]]
    size: int
    filename: str
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class Base64Source:
    """Bare base64 data (no ``data:`` prefix: the host refuses it)."""

    data: str


Source = FileSource | StreamSource | Base64Source


def option_fields(options: UploadOptions) -> list[tuple[str, str]]:
    """The form fields for ``options``. Falsy values ("", "0") are left out: the host drops
    them anyway, so ``nsfw=False`` sends nothing. The expiration is validated here, since
    the host silently turns garbage into five minutes."""
    expiration = parse_expiration(options.expiration) if options.expiration else None
    tags = ",".join(tag.strip() for tag in options.tags if tag.strip())
    candidates = [
        ("title", options.title),
        ("description", options.description),
        ("tags", tags),
        ("album_id", options.album_id),
        ("category_id", _positive(options.category_id)),
        ("width", _positive(options.width)),
        ("expiration", expiration),
        ("nsfw", "1" if options.nsfw else None),
        ("use_file_date", "1" if options.file_date else None),
    ]
    return [(name, value) for name, value in candidates if value]


def _positive(number: int | None) -> str | None:
    return str(number) if number is not None and number > 0 else None


def _quote(value: str) -> str:
    """A name or file name for a Content-Disposition header, escaped as browsers do."""
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


@dataclass(frozen=True, slots=True)
class Body:
    """A multipart/form-data body whose file part is streamed, from disk or as it arrives.

    Its length is known up front (Content-Length), and memory holds one chunk at a time.
    It is single-use: build a new one for every try.
    """

    boundary: str
    head: bytes
    file: Callable[[], AsyncIterator[bytes]] | None
    file_size: int
    tail: bytes

    @classmethod
    def build(cls, fields: list[tuple[str, str]], source: Source) -> Body:
        if isinstance(source, Base64Source):
            fields = [*fields, ("source", source.data)]
        boundary = f"chevereto-bot-{secrets.token_hex(16)}"
        head = b"".join(
            cls._part_header(boundary, name) + value.encode() + b"\r\n" for name, value in fields
        )
        end = f"--{boundary}--\r\n".encode()
        if isinstance(source, Base64Source):
            return cls(boundary, head, None, 0, end)
        content_type = source.content_type or mimetypes.guess_type(source.filename)[0]
        head += cls._part_header(boundary, "source", source.filename, content_type)
        if isinstance(source, StreamSource):
            return cls(boundary, head, source.chunks, source.size, b"\r\n" + end)
        size = source.path.stat().st_size
        path = source.path
        return cls(boundary, head, lambda: _read_file(path, size), size, b"\r\n" + end)

    @staticmethod
    def _part_header(
        boundary: str, name: str, filename: str | None = None, content_type: str | None = None
    ) -> bytes:
        disposition = f'form-data; name="{_quote(name)}"'
        if filename is None:
            return f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        disposition += f'; filename="{_quote(filename)}"'
        kind = content_type or "application/octet-stream"
        lines = (
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {kind}\r\n\r\n"
        )
        return lines.encode()

    @property
    def length(self) -> int:
        return len(self.head) + self.file_size + len(self.tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    async def chunks(self, progress: Progress | None) -> AsyncIterator[bytes]:
        """The body's bytes; ``progress`` hears of each chunk once it has gone out."""
        sent = 0
        async for chunk in self._pieces():
            yield chunk
            sent += len(chunk)
            if progress is not None:
                await progress(sent, self.length)

    async def _pieces(self) -> AsyncIterator[bytes]:
        yield self.head
        if self.file is not None:
            async for chunk in self.file():
                yield chunk
        yield self.tail


async def _read_file(path: Path, size: int) -> AsyncIterator[bytes]:
    """Exactly ``size`` bytes of ``path`` in chunks, read in a thread so the loop never blocks."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        remaining = size
        while remaining > 0:
            chunk = await asyncio.to_thread(handle.read, min(CHUNK_SIZE, remaining))
            if not chunk:
                raise OSError(f"{path.name} shrank while it was being uploaded")
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()

"""The Chevereto API v1.1 client: the only module that knows Chevereto's URLs and JSON.

It follows ``chevereto-api.md`` (how the API really behaves). Decisions where the host's
answer leaves room:

- ``130 Flooding detected`` is rate limiting, a passing state of the host: it becomes
  HostUnavailable and is retried with backoff like a 503. (``130 Empty upload source``
  is a client bug and becomes HostRejected.)
- ``403 URL uploading is disabled`` is neither the file's nor the key's fault: it becomes
  ``HostRejected(403, ...)``, so a caller can catch ``code == 403`` and send the bytes.
- A 3xx on the upload call is HostUnavailable but is not retried: a wrong base URL or an
  http-to-https redirect answers the same every time, and each try re-sends the file.
- JSON that is not shaped like an upload answer becomes ``HostRejected("bad-answer")`` and
  is not retried: the upload may have happened, and a retry would be a duplicate.
- An HTTP 413 (from a proxy in front of the host; Chevereto itself never sends one) is
  ``FileTooLargeForHost(None)``.

The key travels only in the ``X-API-Key`` header and is never logged nor put in an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Container
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Self, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bot.domain import HostImage, UploadOptions
from bot.durations import parse_expiration
from bot.errors import (
    Duplicate,
    FileRefused,
    FileTooLargeForHost,
    HostError,
    HostFull,
    HostRejected,
    HostUnavailable,
    KeyRejected,
    UploadsDisabled,
)
from bot.tls import tls_context

log = logging.getLogger(__name__)

UPLOAD_PATH: Final = "/api/1/upload"
CHUNK_SIZE: Final = 256 * 1024

T = TypeVar("T")
Progress = Callable[[int, int], Awaitable[None]]
"""Called with (bytes sent, total bytes) as the body goes out."""
Format = Literal["json", "txt", "redirect"]


@dataclass(frozen=True, slots=True)
class FileSource:
    """A file on disk, streamed to the host in chunks."""

    path: Path
    filename: str
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class Base64Source:
    """Bare base64 data (no ``data:`` prefix: the host refuses it)."""

    data: str


@dataclass(frozen=True, slots=True)
class UrlSource:
    """A URL the host fetches itself; only admin keys, and only where the site allows it."""

    url: str


Source = FileSource | Base64Source | UrlSource

_NO_OPTIONS: Final = UploadOptions()


class _Redirected(HostUnavailable):
    """The host answered a 3xx: a wrong base URL, which no retry cures."""


class CheveretoClient:
    """Uploads to and deletes from one Chevereto site, with each user's own key."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        tries: int = 3,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        root = base_url.rstrip("/")
        url = httpx.URL(root)
        if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
            raise ValueError("base_url must be http(s)://host[/path], without query or fragment")
        if tries < 1:
            raise ValueError("tries must be at least 1")
        self._base = httpx.URL(root + "/")
        self._upload_url = root + UPLOAD_PATH
        self._tries = tries
        self._backoff = backoff
        self._http = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, transport=transport, verify=tls_context()
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def upload(
        self,
        key: str,
        source: Source,
        options: UploadOptions = _NO_OPTIONS,
        *,
        progress: Progress | None = None,
    ) -> HostImage:
        """Uploads ``source`` and returns what the host answered (format json)."""
        return await self._upload(
            key, source, options, fmt="json", progress=progress, read=_read_json
        )

    async def upload_text(
        self,
        key: str,
        source: Source,
        options: UploadOptions = _NO_OPTIONS,
        *,
        progress: Progress | None = None,
    ) -> str:
        """Uploads ``source`` and returns the bare direct URL (format txt).

        Raises ``HostRejected("empty-answer")`` when the host gives no URL, as it does while
        an image awaits moderation; use ``upload`` to learn more.
        """
        return await self._upload(
            key, source, options, fmt="txt", progress=progress, read=_read_txt
        )

    async def upload_redirect(
        self,
        key: str,
        source: Source,
        options: UploadOptions = _NO_OPTIONS,
        *,
        progress: Progress | None = None,
    ) -> str:
        """Uploads ``source`` and returns the viewer URL of the 302 (format redirect), absolute."""

        def read(response: httpx.Response) -> str:
            return _read_redirect(response, self._base)

        return await self._upload(
            key, source, options, fmt="redirect", progress=progress, read=read
        )

    async def delete(self, delete_url: str) -> bool:
        """Performs the GET on a delete link and tells whether the image is now gone.

        The link deletes on a plain GET and the answer alone proves little (Chevereto
        redirects away after deleting, and 404s both unknown images and wrong hashes), so
        redirects are not followed and "gone" means: after the delete GET, the image's
        viewer page (the link without its ``/delete/<hash>`` tail) answers 404 or 410. When
        no viewer page can be derived from the link, a 2xx or 3xx answer to the delete GET
        counts as gone. No key is sent. Network errors and 5xx raise HostUnavailable, after
        retries (the GET is idempotent).
        """
        status = await self._retrying(lambda: self._get_status(delete_url))
        viewer = _viewer_of(delete_url)
        if viewer is None:
            return status < 400
        return await self._retrying(lambda: self._get_status(viewer)) in (404, 410)

    async def _upload(
        self,
        key: str,
        source: Source,
        options: UploadOptions,
        *,
        fmt: Format,
        progress: Progress | None,
        read: Callable[[httpx.Response], T],
    ) -> T:
        """One upload call: the body is rebuilt and the answer read on every try."""
        if not key.isascii() or not key.isprintable():
            raise KeyRejected("the key is not a printable ASCII string")
        fields = [*_option_fields(options), ("format", fmt), *_source_fields(source)]

        async def attempt() -> T:
            return read(await self._post(key, fields, source, progress))

        return await self._retrying(attempt)

    async def _post(
        self,
        key: str,
        fields: list[tuple[str, str]],
        source: Source,
        progress: Progress | None,
    ) -> httpx.Response:
        body = _Body.build(fields, source if isinstance(source, FileSource) else None)
        headers = {
            "X-API-Key": key,
            "Content-Type": body.content_type,
            "Content-Length": str(body.length),
            "Accept": "application/json, text/plain",
        }
        try:
            return await self._http.post(
                self._upload_url, content=body.chunks(progress), headers=headers
            )
        except httpx.TransportError as e:
            raise HostUnavailable(f"upload failed: {type(e).__name__}") from e

    async def _get_status(self, url: str) -> int:
        try:
            response = await self._http.get(url)
        except httpx.TransportError as e:
            raise HostUnavailable(f"request failed: {type(e).__name__}") from e
        if response.status_code >= 500:
            raise HostUnavailable(f"host answered HTTP {response.status_code}")
        return response.status_code

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Runs ``attempt`` up to ``tries`` times, backing off exponentially, while the host
        is unavailable. Only HostUnavailable is retried: any other answer is the host's
        decision and would repeat."""
        for number in range(1, self._tries):
            try:
                return await attempt()
            except _Redirected:
                raise
            except HostUnavailable as e:
                delay = self._backoff * 2 ** (number - 1)
                log.warning("host unavailable (%s); try %d, next in %.2fs", e, number, delay)
                await asyncio.sleep(delay)
        return await attempt()


# --- the request body --------------------------------------------------------------------


def _option_fields(options: UploadOptions) -> list[tuple[str, str]]:
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
    ]
    return [(name, value) for name, value in candidates if value]


def _source_fields(source: Source) -> list[tuple[str, str]]:
    """The text ``source`` field for base64 and URL sources (files go as a file part)."""
    if isinstance(source, Base64Source) and source.data:
        return [("source", source.data)]
    if isinstance(source, UrlSource) and source.url:
        return [("source", source.url)]
    return []


def _positive(number: int | None) -> str | None:
    return str(number) if number is not None and number > 0 else None


def _quote(value: str) -> str:
    """A name or file name for a Content-Disposition header, escaped as browsers do."""
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


@dataclass(frozen=True, slots=True)
class _Body:
    """A multipart/form-data body whose file part is streamed from disk.

    Its length is known up front (Content-Length), and memory holds one chunk at a time.
    It is single-use: build a new one for every try.
    """

    boundary: str
    head: bytes
    file: Path | None
    file_size: int
    tail: bytes

    @classmethod
    def build(cls, fields: list[tuple[str, str]], file: FileSource | None) -> _Body:
        boundary = f"chevereto-bot-{secrets.token_hex(16)}"
        head = b"".join(
            cls._part_header(boundary, name) + value.encode() + b"\r\n" for name, value in fields
        )
        end = f"--{boundary}--\r\n".encode()
        if file is None:
            return cls(boundary, head, None, 0, end)
        content_type = file.content_type or mimetypes.guess_type(file.filename)[0]
        head += cls._part_header(boundary, "source", file.filename, content_type)
        return cls(boundary, head, file.path, file.path.stat().st_size, b"\r\n" + end)

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
            async for chunk in _read_file(self.file, self.file_size):
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


# --- the answers -------------------------------------------------------------------------


class _Image(BaseModel):
    """The fields of ``image`` the bot uses; ``url`` and ``display_url`` are absent while
    the image awaits moderation."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id_encoded: str
    url_viewer: str
    url_short: str
    delete_url: str
    expiration_date_gmt: datetime | None = None
    url: str | None = None
    display_url: str | None = None
    md5: str | None = None
    size: int | None = None
    mime: str | None = None
    type: str | None = None
    title: str | None = None

    @field_validator("expiration_date_gmt", mode="before")
    @classmethod
    def _utc(cls, value: object) -> object:
        """The host writes ``YYYY-MM-DD HH:MM:SS`` in UTC without saying so."""
        if value == "":
            return None
        if isinstance(value, str):
            return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        return value

    def host_image(self) -> HostImage:
        return HostImage(**self.model_dump())


class _Failure(BaseModel):
    message: str = ""
    code: int | str = 0


class _Answer(BaseModel):
    image: _Image | None = None
    error: _Failure | None = None


# Messages of the error table, as txt and redirect answers give them (bare, HTTP 200).
_MESSAGE_CODES: Final = (
    ("No key provided", 100),
    ("Invalid API key", 100),
    ("Invalid API version", 110),
    ("Invalid API action", 110),
    ("Invalid base64 string", 120),
    ("Empty upload source", 130),
    ("Flooding detected", 130),
    ("Request denied", 401),
    ("URL uploading is disabled", 403),
    ("Duplicated upload", 101),
    ("No space left on storage", 104),
    ("No storage available", 900),
    ("File too big", 400),
    ("Invalid image", 400),
    ("Animated WebP is not supported", 400),
    ("FFprobe error", 600),
    ("Disabled image format", 614),
)
_TOO_BIG = re.compile(r"File too big - max (\d+) MB")


_BY_CODE: Final[tuple[tuple[Container[int], Callable[[], HostError]], ...]] = (
    ((100,), lambda: KeyRejected("the host refused the key")),
    ((401,), lambda: UploadsDisabled("the site refuses API uploads")),
    (range(101, 104), lambda: Duplicate("already on the host")),
    ((104, 900), lambda: HostFull("the host has no storage left")),
    (range(600, 633), lambda: FileRefused("the host refused the file")),
)


def _host_error(code: int | str, message: str) -> HostError:
    """The typed error for one row of the host's error table."""
    log.warning("Chevereto answered error %r: %s", code, message)
    if isinstance(code, str) or code == 0:
        return HostRejected(code, message)  # raw PHP or SQL text: for logs only
    if code == 130 and message.startswith("Flooding"):
        return HostUnavailable("the host is rate limiting uploads")
    if code == 400:
        return _error_400(message)
    make = next((make for codes, make in _BY_CODE if code in codes), None)
    # 110, 120, 130 (empty source), 403 and unknown codes: the host's word, kept for logs
    return make() if make is not None else HostRejected(code, message)


def _error_400(message: str) -> HostError:
    too_big = _TOO_BIG.search(message)
    if too_big is not None:
        return FileTooLargeForHost(int(too_big.group(1)))
    if message.startswith("File too big"):
        return FileTooLargeForHost(None)
    return FileRefused("the host refused the file (code 400)")


def _check_status(response: httpx.Response) -> None:
    """Raises for the statuses that are not the host's answer: 3xx, 413, 429 and 5xx."""
    status = response.status_code
    if 300 <= status < 400:
        log.warning("upload answered %d to %s", status, response.headers.get("location"))
        raise _Redirected(f"host answered a redirect (HTTP {status}): check the base URL")
    if status == 413:
        raise FileTooLargeForHost(None)
    if status == 429 or status >= 500:
        raise HostUnavailable(f"host answered HTTP {status}")


def _json_of(response: httpx.Response) -> object:
    """The JSON body, or None when the body is not JSON (an HTML page, say)."""
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _read_json(response: httpx.Response) -> HostImage:
    """The image of a format=json answer, or the error the answer means."""
    _check_status(response)
    data = _json_of(response)
    if not isinstance(data, dict):
        raise HostUnavailable(f"host answered HTTP {response.status_code} without JSON")
    try:
        answer = _Answer.model_validate(data)
    except ValidationError as e:
        log.warning("Chevereto answered unexpected JSON: %s", e)
        raise HostRejected("bad-answer", str(e)) from None
    if answer.error is not None:
        raise _host_error(answer.error.code, answer.error.message)
    if answer.image is None or response.status_code != 200:
        raise HostRejected("bad-answer", f"HTTP {response.status_code} without image")
    return answer.image.host_image()


def _read_txt(response: httpx.Response) -> str:
    """The direct URL of a format=txt answer, or the error the answer means."""
    _check_status(response)
    text = response.text.strip()
    if response.status_code == 200 and re.fullmatch(r"https?://\S+", text):
        return text
    raise _text_error(response)


def _read_redirect(response: httpx.Response, base: httpx.URL) -> str:
    """The absolute viewer URL of a format=redirect answer, or the error the answer means."""
    location = response.headers.get("location")
    if response.status_code == 302 and location:
        return str(base.join(location))
    _check_status(response)
    raise _text_error(response)


def _text_error(response: httpx.Response) -> HostError:
    """The error a txt or redirect answer means: a bare message (HTTP 200), or JSON."""
    data = _json_of(response)
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        try:
            failure = _Failure.model_validate(data["error"])
        except ValidationError:
            return HostRejected("bad-answer", "an error without code or message")
        return _host_error(failure.code, failure.message)
    text = response.text.strip()
    if text.startswith("<"):
        return HostUnavailable(f"host answered HTTP {response.status_code} with HTML")
    if not text:
        return HostRejected("empty-answer", f"HTTP {response.status_code} with an empty body")
    code = next((code for prefix, code in _MESSAGE_CODES if text.startswith(prefix)), 0)
    return _host_error(code, text)


def _viewer_of(delete_url: str) -> str | None:
    """The viewer page of a delete link: ``<site>/image/<id>/delete/<hash>`` without its tail."""
    match = re.fullmatch(r"(https?://.+)/delete/[^/?#]+/?", delete_url)
    return match.group(1) if match else None

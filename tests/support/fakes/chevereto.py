"""A Chevereto 4.2 site on 127.0.0.1 that behaves as ``chevereto-api.md`` describes.

A real HTTP server (aiohttp), so the client is tested over real sockets::

    async with FakeChevereto() as fake:
        fake.add_key("chv_1_abc")
        ...  # point a client at fake.url, then look at fake.requests and fake.images

Uploads are streamed to a temporary directory and hashed as they arrive, so a large file
never sits in memory. As the real site, it tells image from video by the ``source`` part's
type (a video sent as ``application/octet-stream`` fails with code 610), sets a new
``PHPSESSID`` cookie on every answer, and with ``short_links = False`` answers a ``url_short``
equal to ``url_viewer``. Settings are plain attributes (``fake.max_size_mb = 1``); failures are
queued with ``fail_next``, ``hang_next``, ``answer_html_next``, ``close_next``,
``redirect_next``, ``php_error_next``, ``error_next``, ``proxy_413_next``,
``oversized_answer_next``, ``trickle_answer_next`` and ``store_then_trickle_next``, one per
request, in order. The bot's key-less start-up check (``site_checks``) takes none of them: a
failure queued for an upload stays for the upload, whenever the check comes. (``delay`` holds
the check too.) ``outage`` (``"page"``, ``"cut"`` or None) puts the site down, for every call
to the upload path, checks included, until it is set back to None. ``urls_next`` makes the next
successful upload answer other URLs (``javascript:``, ``data:``, a CDN's) in chosen fields.

An upload whose body stops before its end (the client aborted it, or sent fewer bytes than
its Content-Length) stores nothing and is recorded ``incomplete``; each request records
when it arrived, when its body was whole and when it was answered. ``bandwidth`` (bytes per
second, None: no limit) is the pace the site reads an upload's file at.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import re
import secrets
import socket
import struct
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self
from urllib.parse import urlsplit

import aiohttp
from aiohttp import BodyPartReader, web

from tests.support.fakes.transfer import Pace
from tests.support.leaks import issued

UPLOAD_PATH = "/api/1/upload"
CHUNK = 256 * 1024
MB = 1024 * 1024
PAUSE_S = 5.0
"""How long ``oversized_answer_next`` waits, midway, for a client to go away."""
TRICKLE_S = 0.05
"""How often ``trickle_answer_next`` sends the next byte of its answer."""
NGINX_413 = (
    "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
    "<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
MIN_EXPIRATION = 5 * 60
MAX_EXPIRATION = 365 * 86400
PHP_WARNING = (
    "Warning: imagecreatefromstring(): Data is not in a recognized format in "
    "/var/www/html/app/src/Legacy/Classes/Upload.php on line 412"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Injection = Callable[[web.Request], Awaitable[web.StreamResponse | None]]


_ISO_DURATION = re.compile(
    r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?"
)
_DURATION_WEIGHTS = (365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1)


def _duration_seconds(value: str) -> int | None:
    """An ISO-8601 duration's length as PHP's DateInterval would add it (a month as 30 days),
    or None when the text is not one."""
    match = _ISO_DURATION.fullmatch(value.strip().upper())
    if match is None or not any(match.groups()):
        return None
    return sum(int(n or 0) * w for n, w in zip(match.groups(), _DURATION_WEIGHTS, strict=True))


@dataclass
class RecordedRequest:
    """One request the fake received. Header names are lower-cased; ``form`` holds text fields."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    file_size: int | None = None
    file_md5: str | None = None
    file_type: str | None = None
    """The ``Content-Type`` of the multipart ``source`` part."""
    key_in_url: bool = False
    at: float = field(default_factory=time.monotonic)
    """When it arrived (``time.monotonic``): its headers; its body may still be coming."""
    received: float | None = None
    """When the whole body had been read; None when it never was (an injected answer came
    first, or the body stopped before its end)."""
    finished: float | None = None
    """When its answer was ready; None when there was none (the client went away first)."""
    incomplete: bool = False
    """Its body stopped before its end (the client aborted it, or sent fewer bytes than its
    Content-Length): nothing of it was stored."""
    answer_sent: int = 0
    """For an answer streamed by ``oversized_answer_next``: the bytes of its body written
    before it ended."""
    answer_cut: bool = False
    """That streamed answer's connection was closed by the client before its end."""


RECORD = web.RequestKey("record", RecordedRequest)


@dataclass
class StoredImage:
    """An image on the fake site; ``options`` are the fields as the host applied them."""

    id: str
    md5: str
    size: int
    mime: str
    type: str
    extension: str
    filename: str
    owner: str
    options: dict[str, object]
    delete_hash: str
    expiration_date_gmt: datetime | None
    is_approved: int
    path: Path = field(repr=False)
    width: int = 0


@dataclass
class _Key:
    user: str
    admin: bool


@dataclass
class _Blob:
    """Bytes received into a temporary file."""

    path: Path
    name: str
    size: int
    md5: str
    head: bytes
    content_type: str | None = None
    """The multipart part's type; None for a base64 or URL source."""


class _Refusal(Exception):
    """An error answer of the API: a code and a message."""

    def __init__(self, code: int | str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Writer:
    """Writes chunks to a file, hashing as it goes: memory holds one chunk at a time."""

    def __init__(self, path: Path, name: str) -> None:
        self._blob = _Blob(path, name, 0, "", b"")
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._file: IO[bytes] = path.open("wb")

    @property
    def size(self) -> int:
        return self._blob.size

    def write(self, chunk: bytes) -> None:
        if len(self._blob.head) < 32:
            self._blob.head = (self._blob.head + chunk)[:32]
        self._blob.size += len(chunk)
        self._md5.update(chunk)
        self._file.write(chunk)

    def close(self) -> _Blob:
        self._file.close()
        self._blob.md5 = self._md5.hexdigest()
        return self._blob


class FakeChevereto:
    """A fake Chevereto site: ``async with FakeChevereto() as fake:``, then use ``fake.url``."""

    def __init__(self, *, bandwidth: float | None = None) -> None:
        self.url = ""
        self.bandwidth = bandwidth
        """Bytes per second an upload's file is read at; None: as fast as it comes."""
        self.requests: list[RecordedRequest] = []
        self.images: dict[str, StoredImage] = {}
        self.deleted: set[str] = set()
        self.url_uploads = False
        self.expirable = True
        self.max_size_mb = 50
        self.api_enabled = True
        self.ffmpeg = True
        self.moderation = False
        self.storage_full = False  # code 104
        self.no_storage = False  # code 900
        self.disabled_extensions: set[str] = set()
        self.image_width = 1000  # the width of images that are not PNG
        self.delay = 0.0  # seconds added to every upload
        self.short_links = True  # False: url_short is url_viewer, as on a site without them
        self.thumbnails = True  # False: thumb.url is null, as for an image too small for one
        self.outage: Literal["page", "cut"] | None = None
        """While set, every call to the upload path (the bot's key-less checks and probes too)
        answers a 503 maintenance page ("page") or has its connection reset ("cut")."""
        self._keys: dict[str, _Key] = {}
        self._albums: dict[str, str] = {}
        self._injections: deque[Injection] = deque()
        self._url_overrides: deque[dict[str, str]] = deque()
        self._counter = 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._runner: web.AppRunner | None = None

    # --- set-up ------------------------------------------------------------------------

    def add_key(self, key: str, *, admin: bool = False, user: str = "user") -> None:
        issued("key", key)
        self._keys[key] = _Key(user, admin)

    def add_album(self, user: str, album_id: str) -> None:
        """Gives ``user`` the album with the encoded id ``album_id``."""
        self._albums[album_id] = user

    def fail_next(self, status: int = 503, times: int = 1) -> None:
        async def fail(_: web.Request) -> web.StreamResponse:
            return web.Response(
                status=status, text=f"<h1>HTTP {status}</h1>", content_type="text/html"
            )

        self._inject(fail, times)

    def hang_next(self, seconds: float, times: int = 1) -> None:
        """Waits ``seconds`` before handling the request (cut short if the client goes away)."""

        async def hang(_: web.Request) -> None:
            await asyncio.sleep(seconds)

        self._inject(hang, times)

    def answer_html_next(self, times: int = 1) -> None:
        async def html(_: web.Request) -> web.StreamResponse:
            page = "<!DOCTYPE html><html><body><h1>500 Internal Server Error</h1></body></html>"
            return web.Response(status=500, text=page, content_type="text/html")

        self._inject(html, times)

    def close_next(self, times: int = 1) -> None:
        """Resets the connection (RST) without answering."""
        self._inject(_reset_connection, times)

    def redirect_next(self, times: int = 1) -> None:
        """Answers 301 to the canonical upload URL, as the site does for a wrong path."""

        async def redirect(_: web.Request) -> web.StreamResponse:
            return self._moved()

        self._inject(redirect, times)

    def error_next(
        self, code: int | str, message: str, times: int = 1, *, status: int = 400
    ) -> None:
        """Answers the JSON error ``code``/``message`` (HTTP ``status``, the site's 400 unless
        told), for rows hard to reach."""

        async def error(_: web.Request) -> web.StreamResponse:
            return _json_error(code, message, status)

        self._inject(error, times)

    def proxy_413_next(self, times: int = 1) -> None:
        """Answers as a proxy in front of the site refusing the body's size: an HTTP 413 HTML
        page (nginx's ``client_max_body_size``), before reading the body."""

        async def too_large(_: web.Request) -> web.StreamResponse:
            return web.Response(status=413, text=NGINX_413, content_type="text/html")

        self._inject(too_large, times)

    def oversized_answer_next(
        self, size: int, times: int = 1, *, declared: bool = True, pause_after: int = 2 * MB
    ) -> None:
        """Reads the request, stores nothing, and answers ``size`` bytes of JSON (HTTP 200),
        with its Content-Length (``declared``) or chunked. After ``pause_after`` bytes it waits
        up to ``PAUSE_S`` for the client to go away before writing the rest, so that a client
        that stops reading is seen doing so (``answer_cut``, ``answer_sent``) rather than
        hidden by the sockets' buffers."""

        async def oversized(request: web.Request) -> web.StreamResponse:
            await _read_to_the_end(request, None)
            return await _stream_json(request, size, declared=declared, pause_after=pause_after)

        self._inject(oversized, times)

    def trickle_answer_next(self, times: int = 1) -> None:
        """Reads the whole request, stores nothing, and answers HTTP 200 at once with a JSON
        error whose body then comes one byte every ``TRICKLE_S``, as a host stuck mid-answer:
        recorded as ``answer_sent`` bytes, and ``answer_cut`` when the client goes away."""

        async def trickle(request: web.Request) -> web.StreamResponse:
            await _read_to_the_end(request, None)
            request[RECORD].received = time.monotonic()
            return await _trickle_json(request)

        self._inject(trickle, times)

    def store_then_trickle_next(self, times: int = 1) -> None:
        """Takes the upload as usual (the file is stored), then answers it a byte every
        ``TRICKLE_S``: a host whose answer is lost although it kept the file."""

        async def stored(request: web.Request) -> web.StreamResponse:
            form, blob = await self._receive(request)
            await self._accept(request, form, blob)
            return await _trickle_json(request)

        self._inject(stored, times)

    def urls_next(self, urls: dict[str, str], times: int = 1) -> None:
        """The next successful upload answers ``urls`` in these fields of ``image``
        (``url_viewer``, ``url_short``, ``delete_url``, ``url``, ``display_url``,
        ``thumb.url``); the upload itself happens as usual."""
        self._url_overrides.extend([dict(urls)] * times)

    def php_error_next(self, times: int = 1) -> None:
        """Answers code 0 with a raw PHP warning, as a broken site does."""
        self.error_next(0, PHP_WARNING, times)

    def _inject(self, injection: Injection, times: int) -> None:
        self._injections.extend([injection] * times)

    @property
    def upload_requests(self) -> list[RecordedRequest]:
        """Requests to the upload path, but for the bot's start-up check (``site_checks``)."""
        return [
            r for r in self.requests if r.path.startswith(UPLOAD_PATH) and not _is_site_check(r)
        ]

    @property
    def site_checks(self) -> list[RecordedRequest]:
        """The key-less, file-less POSTs the bot makes at start to see what the site is."""
        return [r for r in self.requests if _is_site_check(r)]

    # --- life --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-chevereto-")
        # Handlers are cancelled when their client goes away, and shutdown does not wait.
        self._runner = web.AppRunner(
            self._app(), access_log=None, handler_cancellation=True, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._tmp is not None:
            self._tmp.cleanup()

    def _app(self) -> web.Application:
        @web.middleware
        async def record_and_inject(request: web.Request, handler: Handler) -> web.StreamResponse:
            request[RECORD] = self._record(request)
            answer = None
            if self.outage is not None and request.path.startswith(UPLOAD_PATH):
                answer = await _OUTAGES[self.outage](request)
            elif self._injections and not _is_site_check(request[RECORD]):
                answer = await self._injections.popleft()(request)
            if answer is None:
                answer = await handler(request)
            request[RECORD].finished = time.monotonic()
            # Every answer of the site starts a PHP session, wanted or not.
            answer.set_cookie("PHPSESSID", secrets.token_hex(13), path="/", httponly=True)
            return answer

        app = web.Application(middlewares=[record_and_inject])
        app.router.add_route("*", UPLOAD_PATH, self._upload)
        app.router.add_route("*", UPLOAD_PATH + "/", self._wrong_path)
        app.router.add_get("/image/{id}/delete/{hash}", self._delete)
        app.router.add_get("/image/{id}", self._viewer)
        app.router.add_get("/images/{id}.{ext}", self._direct)
        app.router.add_get("/", self._home)
        return app

    def _record(self, request: web.Request) -> RecordedRequest:
        keys = {*self._keys, request.headers.get("X-API-Key", "")} - {""}
        url = str(request.rel_url)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers={name.lower(): value for name, value in request.headers.items()},
            key_in_url="key" in request.query or any(key in url for key in keys),
        )
        self.requests.append(record)
        return record

    # --- the API -----------------------------------------------------------------------

    def _moved(self) -> web.StreamResponse:
        return web.Response(status=301, headers={"Location": self.url + UPLOAD_PATH})

    async def _wrong_path(self, _: web.Request) -> web.StreamResponse:
        return self._moved()

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        if request.query_string:
            return self._moved()
        try:
            form, blob = await self._receive(request)
        except BaseException:  # the client went away mid-body, or the body was cut short
            request[RECORD].incomplete = True
            raise
        fmt = form.get("format", "json")
        try:
            image = await self._accept(request, form, blob)
        except _Refusal as refusal:
            return _refuse(refusal, fmt)
        return self._success(image, fmt)

    async def _receive(self, request: web.Request) -> tuple[dict[str, str], _Blob | None]:
        """The text fields and the ``source`` file of a request, recorded as they arrive."""
        form: dict[str, str] = {}
        blob = None
        if request.content_type == "multipart/form-data":
            async for part in await request.multipart():
                if not isinstance(part, BodyPartReader):
                    continue
                if part.filename is None:
                    form[part.name or ""] = await part.text()
                elif part.name == "source" and blob is None:
                    blob = await self._save(part, part.filename)
                    blob.content_type = part.headers.get("Content-Type")
                else:
                    await part.release()
        elif request.content_type == "application/x-www-form-urlencoded":
            form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        await _read_to_the_end(request, blob)
        record = request[RECORD]
        record.received = time.monotonic()
        record.form = form
        if blob is not None:
            record.file_name, record.file_size, record.file_md5 = blob.name, blob.size, blob.md5
            record.file_type = blob.content_type
        return form, blob

    def _new_path(self) -> Path:
        assert self._tmp is not None
        return Path(self._tmp.name) / secrets.token_hex(8)

    async def _save(self, part: BodyPartReader, name: str) -> _Blob:
        """The file, read at ``bandwidth``; a file whose body stops midway is not kept."""
        path = self._new_path()
        writer = _Writer(path, name)
        pace = Pace(self.bandwidth)
        try:
            while chunk := await part.read_chunk(pace.chunk_size(CHUNK)):
                writer.write(chunk)
                await pace.until(writer.size)
        except BaseException:
            writer.close()
            path.unlink(missing_ok=True)
            raise
        return writer.close()

    async def _accept(
        self, request: web.Request, form: dict[str, str], blob: _Blob | None
    ) -> StoredImage:
        """Checks an upload as the site does, in its order, and stores it."""
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.api_enabled:
            raise _Refusal(401, "Request denied")
        key = self._key(request, form)
        fields = {name: value for name, value in form.items() if value not in ("", "0")}
        blob = blob or await self._text_source(fields.get("source", ""), key)
        mime, kind, extension = self._check_file(blob, fields)
        self._check_site(blob, key, fields)
        return self._store(blob, key, fields, (mime, kind, extension))

    def _key(self, request: web.Request, form: dict[str, str]) -> _Key:
        given = request.headers.get("X-API-Key") or form.get("key") or request.query.get("key")
        if not given:
            raise _Refusal(100, "No key provided")
        if given not in self._keys:
            raise _Refusal(100, "Invalid API key.")
        return self._keys[given]

    async def _text_source(self, source: str, key: _Key) -> _Blob:
        if not source:
            raise _Refusal(130, "Empty upload source")
        if re.match(r"https?://", source):
            if not (key.admin and self.url_uploads):
                raise _Refusal(403, "URL uploading is disabled")
            return await self._fetch(source)
        if source.startswith("data:"):
            raise _Refusal(120, "Invalid base64 string")
        try:
            data = base64.b64decode(source, validate=True)
        except binascii.Error:
            raise _Refusal(120, "Invalid base64 string") from None
        writer = _Writer(self._new_path(), "base64")
        writer.write(data)
        return writer.close()

    async def _fetch(self, url: str) -> _Blob:
        """Fetches a URL source; only from 127.0.0.1, so tests never reach out."""
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
            raise _Refusal(400, "Can't fetch target URL")
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            if response.status != 200:
                raise _Refusal(400, "Can't fetch target URL")
            writer = _Writer(self._new_path(), urlsplit(url).path.rsplit("/", 1)[-1])
            async for chunk in response.content.iter_chunked(CHUNK):
                writer.write(chunk)
            return writer.close()

    def _check_file(self, blob: _Blob, fields: dict[str, str]) -> tuple[str, str, str]:
        if blob.size > self.max_size_mb * 1024 * 1024:
            raise _Refusal(400, f"File too big - max {self.max_size_mb} MB")
        sniffed = _sniff(blob.head)
        if sniffed is None:
            raise _Refusal(400, "Invalid image")
        _, kind, extension = sniffed
        if kind == "video" and not (blob.content_type or "video/").startswith("video/"):
            # The site reads a part typed as anything but video/* as an image.
            raise _Refusal(610, "Can't get target upload source info")
        if kind == "video" and not self.ffmpeg:
            raise _Refusal(600, "FFprobe error: ffprobe binary not found")
        if extension in self.disabled_extensions:
            raise _Refusal(614, f"Disabled image format ({extension})")
        width = fields.get("width", "")
        if width.isdigit() and int(width) > self._width_of(blob):
            raise _Refusal(610, "Resize width is larger than the image")
        return sniffed

    def _width_of(self, blob: _Blob) -> int:
        if blob.head.startswith(b"\x89PNG\r\n\x1a\n") and len(blob.head) >= 24:
            return int(struct.unpack(">I", blob.head[16:20])[0])
        return self.image_width

    def _check_site(self, blob: _Blob, key: _Key, fields: dict[str, str]) -> None:
        if self.storage_full:
            raise _Refusal(104, "No space left on storage")
        if self.no_storage:
            raise _Refusal(900, "No storage available")
        if not key.admin and any(image.md5 == blob.md5 for image in self.images.values()):
            raise _Refusal(101, "Duplicated upload")
        category = fields.get("category_id", "")
        if category and not category.isdigit():
            raise _Refusal(
                "22007",
                "SQLSTATE[22007]: Invalid datetime format: 1366 Incorrect integer value: "
                f"'{category}' for column `chevereto`.`chv_images`.`image_category_id` at row 1",
            )

    def _store(
        self, blob: _Blob, key: _Key, fields: dict[str, str], sniffed: tuple[str, str, str]
    ) -> StoredImage:
        self._counter += 1
        image_id = _encode_id(self._counter)
        options = self._options(blob, key, fields)
        seconds = options["expiration"]
        expires = (
            datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
            if isinstance(seconds, int)
            else None
        )
        image = StoredImage(
            id=image_id,
            md5=blob.md5,
            size=blob.size,
            mime=sniffed[0],
            type=sniffed[1],
            extension=sniffed[2],
            filename=blob.name,
            owner=key.user,
            options=options,
            delete_hash=issued("delete hash", secrets.token_hex(24)),
            expiration_date_gmt=expires,
            is_approved=0 if self.moderation else 1,
            path=blob.path,
            width=self._width_of(blob),
        )
        self.images[image_id] = image
        return image

    def _options(self, blob: _Blob, key: _Key, fields: dict[str, str]) -> dict[str, object]:
        """The fields as the site applies them (falsy ones were already dropped)."""
        album = fields.get("album_id")
        return {
            "title": fields.get("title", Path(blob.name).stem)[:100],
            "description": fields.get("description"),
            "tags": [t.strip() for t in fields.get("tags", "").split(",") if _valid_tag(t.strip())],
            "album_id": album if album and self._albums.get(album) == key.user else None,
            "category_id": int(fields["category_id"]) if "category_id" in fields else None,
            "width": int(fields["width"]) if fields.get("width", "").isdigit() else None,
            "expiration": self._expiration(fields.get("expiration")),
            "nsfw": 1 if fields.get("nsfw") == "1" else 0,
        }

    def _expiration(self, value: str | None) -> int | None:
        """Seconds until expiry: valid durations clamped to 5 min ... 365 days, garbage 5 min."""
        if not self.expirable or not value:
            return None
        seconds = _duration_seconds(value)
        if seconds is None:
            seconds = MIN_EXPIRATION
        return min(max(seconds, MIN_EXPIRATION), MAX_EXPIRATION)

    # --- answers -----------------------------------------------------------------------

    def _success(self, image: StoredImage, fmt: str) -> web.StreamResponse:
        data = self._image_json(image)
        if fmt == "txt":
            return web.Response(text=str(data.get("url", "")))
        if fmt == "redirect":
            return web.Response(status=302, headers={"Location": str(data["path_viewer"])})
        body = {
            "status_code": 200,
            "success": {"message": "file uploaded", "code": 200},
            "image": data,
            "status_txt": "OK",
        }
        return web.json_response(body)

    def _image_json(self, image: StoredImage) -> dict[str, object]:
        direct = f"{self.url}/images/{image.id}.{image.extension}"
        viewer = f"{self.url}/image/{image.id}"
        expires = image.expiration_date_gmt
        nothing = dict.fromkeys(("filename", "name", "mime", "extension", "url"))
        options = {name: value for name, value in image.options.items() if name != "expiration"}
        tags = image.options["tags"]
        assert isinstance(tags, list)
        data: dict[str, object] = {
            "id_encoded": image.id,
            "name": image.id,
            "extension": image.extension,
            "filename": f"{image.id}.{image.extension}",
            "original_filename": image.filename,
            "size": image.size,
            "width": image.width,
            "md5": image.md5,
            "mime": image.mime,
            "type": image.type,
            "is_approved": image.is_approved,
            **options,
            "tags_string": ",".join(tags),
            "expiration_date_gmt": expires.strftime("%Y-%m-%d %H:%M:%S") if expires else None,
            "url": direct,
            "display_url": direct,
            "image": {"filename": f"{image.id}.{image.extension}", "url": direct},
            "thumb": self._thumb_json(image) if self.thumbnails else dict(nothing),
            "medium": dict(nothing),
            "url_viewer": viewer,
            "path_viewer": f"/image/{image.id}",
            "url_short": f"{self.url}/{image.id}" if self.short_links else viewer,
            "delete_url": f"{self.url}/image/{image.id}/delete/{image.delete_hash}",
        }
        if self._url_overrides:
            _override_urls(data, self._url_overrides.popleft())
        return _without_urls(data) if not image.is_approved else data

    def _thumb_json(self, image: StoredImage) -> dict[str, object]:
        """The thumbnail the site makes: of the image, in its format; of a video's frame, a JPEG."""
        extension = "jpeg" if image.type == "video" else image.extension
        name = f"{image.id}.th"
        mime = "image/jpeg" if image.type == "video" else image.mime
        return {
            "filename": f"{name}.{extension}",
            "name": name,
            "mime": mime,
            "extension": extension,
            "url": f"{self.url}/images/{name}.{extension}",
        }

    # --- the site ----------------------------------------------------------------------

    async def _viewer(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["id"] not in self.images:
            return _html(404, "That page doesn't exist")
        return _html(200, f"Image {request.match_info['id']}")

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        """Deletes on a plain GET with the right hash, then redirects to the site root."""
        image = self.images.get(request.match_info["id"])
        if image is None or request.match_info["hash"] != image.delete_hash:
            return _html(404, "That page doesn't exist")
        del self.images[image.id]
        self.deleted.add(image.id)
        image.path.unlink(missing_ok=True)
        return web.Response(status=302, headers={"Location": self.url + "/"})

    async def _direct(self, request: web.Request) -> web.StreamResponse:
        image = self.images.get(request.match_info["id"])
        if image is None or not image.is_approved:
            return _html(404, "Not found")
        return web.FileResponse(image.path, headers={"Content-Type": image.mime})

    async def _home(self, _: web.Request) -> web.StreamResponse:
        return _html(200, "Fake Chevereto")


async def _read_to_the_end(request: web.Request, blob: _Blob | None) -> None:
    """Reads what is left of the body, as PHP does before the script runs: a request that
    stops short of its Content-Length raises here, and nothing of it is stored."""
    try:
        while await request.content.readany():
            pass
    except BaseException:
        if blob is not None:
            blob.path.unlink(missing_ok=True)
        raise


def _is_site_check(record: RecordedRequest) -> bool:
    """To the upload path with no key and no multipart body: the start-up check, never an
    upload."""
    multipart = record.headers.get("content-type", "").startswith("multipart/")
    to_upload = record.path.startswith(UPLOAD_PATH)
    return to_upload and "x-api-key" not in record.headers and not multipart


def _json_error(code: int | str, message: str, status: int = 400) -> web.StreamResponse:
    body = {
        "status_code": status,
        "error": {"message": message, "code": code},
        "status_txt": "Bad Request",
    }
    return web.json_response(body, status=status)


def _refuse(refusal: _Refusal, fmt: str) -> web.StreamResponse:
    """An error answer: JSON (HTTP 400), or for txt and redirect the bare message (HTTP 200)."""
    if fmt in ("txt", "redirect"):
        return web.Response(text=refusal.message)
    return _json_error(refusal.code, refusal.message)


def _html(status: int, text: str) -> web.StreamResponse:
    page = f"<!DOCTYPE html><html><body><h1>{text}</h1></body></html>"
    return web.Response(status=status, text=page, content_type="text/html")


async def _reset_connection(request: web.Request) -> web.StreamResponse:
    """Closes the socket with SO_LINGER 0 (the client sees a reset) and waits to be cancelled."""
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    await asyncio.sleep(3600)  # the lost connection cancels this handler
    raise ConnectionResetError


async def _maintenance(_: web.Request) -> web.StreamResponse:
    return _html(503, "Down for maintenance")


_OUTAGES: dict[str, Injection] = {"page": _maintenance, "cut": _reset_connection}
"""What the site answers while down, by ``FakeChevereto.outage``."""


def _override_urls(data: dict[str, object], urls: dict[str, str]) -> None:
    """Puts ``urls`` in ``data`` by field name, ``thumb.url`` inside ``thumb``."""
    for name, url in urls.items():
        outer, _, inner = name.partition(".")
        if not inner:
            data[outer] = url
            continue
        nested = data[outer]
        assert isinstance(nested, dict)
        nested[inner] = url


async def _stream_json(
    request: web.Request, size: int, *, declared: bool, pause_after: int
) -> web.StreamResponse:
    """``size`` bytes of JSON, streamed; recorded in the request: how much went out, and
    whether the client closed the connection first."""
    record = request[RECORD]
    answer = web.StreamResponse(headers={"Content-Type": "application/json"})
    if declared:
        answer.content_length = size
    await answer.prepare(request)
    head, tail = b'{"status_code": 200, "padding": "', b'"}'
    try:
        await answer.write(head)
        record.answer_sent = len(head)
        padding = size - len(head) - len(tail)
        while padding > 0:
            chunk = b"x" * min(CHUNK, padding)
            await answer.write(chunk)
            padding -= len(chunk)
            record.answer_sent += len(chunk)
            if record.answer_sent >= pause_after > record.answer_sent - len(chunk):
                await asyncio.sleep(PAUSE_S)  # a client that stopped reading goes away now
        await answer.write(tail)
        record.answer_sent += len(tail)
        await answer.write_eof()
    except (asyncio.CancelledError, ConnectionError):
        record.answer_cut = True
        raise
    return answer


async def _trickle_json(request: web.Request) -> web.StreamResponse:
    """A JSON error answer (HTTP 200) whose body comes one byte every ``TRICKLE_S``; recorded
    in the request: how much went out, and whether the client closed the connection first."""
    record = request[RECORD]
    body = json.dumps({"status_code": 400, "error": {"message": "x" * 1000, "code": 999}})
    answer = web.StreamResponse(headers={"Content-Type": "application/json"})
    answer.content_length = len(body)
    await answer.prepare(request)
    try:
        for byte in body.encode():
            await answer.write(bytes([byte]))
            record.answer_sent += 1
            await asyncio.sleep(TRICKLE_S)
        await answer.write_eof()
    except (asyncio.CancelledError, ConnectionError):
        record.answer_cut = True
        raise
    return answer


def _without_urls(data: dict[str, object]) -> dict[str, object]:
    """The image while it awaits moderation: no ``url``, ``display_url`` nor nested ``url``."""
    kept = {k: v for k, v in data.items() if k not in ("url", "display_url")}
    for name in ("image", "thumb", "medium"):
        nested = kept[name]
        assert isinstance(nested, dict)
        kept[name] = {k: v for k, v in nested.items() if k != "url"}
    return kept


MAGIC = (
    (0, b"\x89PNG\r\n\x1a\n", ("image/png", "image", "png")),
    (0, b"\xff\xd8\xff", ("image/jpeg", "image", "jpg")),
    (0, b"GIF87a", ("image/gif", "image", "gif")),
    (0, b"GIF89a", ("image/gif", "image", "gif")),
    (8, b"WEBP", ("image/webp", "image", "webp")),  # after "RIFF" and a length
    (4, b"ftyp", ("video/mp4", "video", "mp4")),
    (0, b"\x1a\x45\xdf\xa3", ("video/webm", "video", "webm")),
)


def _sniff(head: bytes) -> tuple[str, str, str] | None:
    """(mime, type, extension) by magic number, or None when it is no image nor video."""
    for offset, magic, found in MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return found
    return None


def _valid_tag(tag: str) -> bool:
    return 0 < len(tag) <= 32 and "#" not in tag


def _encode_id(number: int) -> str:
    """A short id like the site's encoded ids."""
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    number += 4000
    out = ""
    while number:
        number, digit = divmod(number, len(alphabet))
        out = alphabet[digit] + out
    return out

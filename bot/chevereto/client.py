"""The Chevereto API v1.1 client: the only place that knows Chevereto's URLs.

It follows the host's real behaviour: the upload goes to exactly
``<site>/api/1/upload`` with the key in the ``X-API-Key`` header, redirects are
never followed (a 3xx turns the POST into a GET that loses the file), and a file
is streamed from disk. The key is never logged nor put in an error.

Failures are short and few on purpose. A call is tried again at once only when the
connection could not be made (nothing reached the host, so it is cheap and safe);
any other failure that passes (a timeout, a connection cut mid-upload, a web page
instead of the API, the flood limit) is raised at once as its kind of HostUnavailable,
so that the job runner tells the user within seconds that it will try again later,
rather than leaving them in silence while the same file is sent again and again.

An answer is read as a stream, at most MAX_HOST_ANSWER_KB of it: a larger one is not the
API, and is not held in memory.

An upload is watched by its progress (``bot.ops.transfer``): a host taking the body slower than
MIN_TRANSFER_KBPS is cut, and once the body is sent its whole answer must come within one
deadline (10 s + 0.5 s per MB), however it trickles. A failure after the body went out says so
(``after_body``): the host may have stored the file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import Final, Self, TypeVar

import httpx

from bot.chevereto.body import DEFAULT_LIMIT_KB, KB, read_capped
from bot.chevereto.multipart import Body, Progress, Source, option_fields
from bot.chevereto.responses import api_answered, read_upload, viewer_of
from bot.domain import HostImage, UploadOptions
from bot.errors import (
    HostNotAnswering,
    HostTooSlow,
    HostUnavailable,
    KeyRejected,
    NotTheApi,
    Redirected,
)
from bot.ops.tls import tls_context
from bot.ops.transfer import Floor, Pace

log = logging.getLogger(__name__)

UPLOAD_PATH: Final = "/api/1/upload"

T = TypeVar("T")
_NO_OPTIONS: Final = UploadOptions()
MB: Final = 1024 * 1024


class _Unreached(HostNotAnswering):
    """No connection could be made: nothing reached the host, so a try at once is safe."""


class _Exchange:
    """One upload's request and answer, watched as the host's side of a transfer: the body
    under the floor, then the whole answer within its deadline. Which part ran out decides the
    error: the body taken too slowly; the file sent and no answer begun (not answering); an
    answer begun that did not end in time (too slow)."""

    def __init__(self, floor: Floor) -> None:
        self.pace = Pace(floor, self._cut)
        self.answered = False
        """The answer's head came: the host is answering."""

    def _cut(self) -> HostUnavailable:
        if not self.pace.finished:
            return HostTooSlow("the host took the file too slowly")
        if not self.answered:
            return HostNotAnswering("no answer by the deadline", after_body=True)
        return HostTooSlow("the answer did not end by its deadline", after_body=True)


def _no_cookies() -> CookieJar:
    """A jar that keeps nothing. The host sets a session cookie (PHPSESSID) on every answer,
    and this one client speaks for every user: a kept cookie would carry one user's session
    into another's request."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class CheveretoClient:
    """Uploads to and deletes from one Chevereto site, with each user's own key."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        timeout_per_mb: float = 0.5,
        tries: int = 3,
        backoff: float = 0.5,
        max_answer_kb: int = DEFAULT_LIMIT_KB,
        floor: Floor | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        root = base_url.rstrip("/")
        url = httpx.URL(root)
        if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
            raise ValueError("base_url must be http(s)://host[/path], without query or fragment")
        if tries < 1:
            raise ValueError("tries must be at least 1")
        if max_answer_kb < 1:
            raise ValueError("max_answer_kb must be at least 1")
        self._max_answer = max_answer_kb * KB
        self._upload_url = root + UPLOAD_PATH
        self._timeout = timeout
        self._timeout_per_mb = timeout_per_mb
        self._tries = tries
        self._backoff = backoff
        self._floor = floor or Floor()
        """The slowest the host may take an upload's body (MIN_TRANSFER_KBPS)."""
        self._http = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
            verify=tls_context(),
            cookies=_no_cookies(),
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
        if not key.isascii() or not key.isprintable():
            raise KeyRejected("the key is not a printable ASCII string")
        fields = [*option_fields(options), ("format", "json")]

        async def attempt() -> HostImage:
            return read_upload(*await self._post(key, fields, source, progress))

        return await self._retrying(attempt, retried=_Unreached)

    async def delete(self, delete_url: str) -> bool:
        """Performs the GET on a delete link and tells whether the image is now gone.

        The link deletes on a plain GET and the answer alone proves little (Chevereto
        redirects away after deleting, and 404s both unknown images and wrong hashes), so
        redirects are not followed and "gone" means: after the delete GET, the image's
        viewer page (the link without its ``/delete/<hash>`` tail) answers 404 or 410. When
        no viewer page can be derived from the link, a 2xx or 3xx answer to the delete GET
        counts as gone. No key is sent, and no body is read: the status says it all.
        Network errors (HostNotAnswering) and 5xx (NotTheApi) raise, after retries (the GET
        is idempotent).
        """
        status = await self._retrying(lambda: self._get_status(delete_url))
        viewer = viewer_of(delete_url)
        if viewer is None:
            return status < 400
        return await self._retrying(lambda: self._get_status(viewer)) in (404, 410)

    async def probe(self) -> bool:
        """Whether the API answers now: one key-less call, as the start-up check makes (no key,
        no file), which a working site answers with its JSON error "No key provided". Anything
        else (no connection, a page, a redirect, a 5xx) is False, never raised."""
        try:
            async with self._http.stream(
                "POST",
                self._upload_url,
                data={"format": "json"},
                headers={"Accept": "application/json"},
            ) as response:
                body = await read_capped(response, self._max_answer)
        except httpx.HTTPError:
            return False
        return api_answered(response, body)

    def upload_timeout(self, length: int) -> httpx.Timeout:
        """The per-operation timeouts of an upload of ``length`` bytes.

        Connecting and the wait for a pooled connection get the base timeout. A chunk
        written may take the floor's window: a host taking the file slowly is the floor's to
        judge (``bot.ops.transfer``), and a chunk at the floor's rate takes up to that long. Each
        read of the answer gets ``answer_s``, which also bounds the whole answer (``_post``).
        """
        write = max(self._timeout, self._floor.window_s)
        return httpx.Timeout(self._timeout, write=write, read=self.answer_s(length))

    def answer_s(self, length: int) -> float:
        """How long the host's whole answer may take once ``length`` bytes are sent. It grows
        with the size: the host stores the whole file and makes its thumbnails (a video's, from
        its frames) before it answers, so a big file may keep a healthy host silent for a
        while, while a host that hangs on a small one is given up in seconds, not minutes."""
        return self._timeout + self._timeout_per_mb * length / MB

    async def _post(
        self,
        key: str,
        fields: list[tuple[str, str]],
        source: Source,
        progress: Progress | None,
    ) -> tuple[httpx.Response, bytes | None]:
        """Sends the upload; its answer, and its body (None: over MAX_HOST_ANSWER_KB, of which
        no more was read, the connection closed). The host's side is watched from the
        connection to the answer's last byte (``_Exchange``)."""
        body = Body.build(fields, source)
        headers = {
            "X-API-Key": key,
            "Content-Type": body.content_type,
            "Content-Length": str(body.length),
            "Accept": "application/json, text/plain",
        }
        exchange = _Exchange(self._floor)
        content = exchange.pace.sending(
            body.chunks(progress), then_within=self.answer_s(body.length)
        )
        request = self._http.build_request(
            "POST",
            self._upload_url,
            content=content,
            headers=headers,
            timeout=self.upload_timeout(body.length),
        )
        try:
            async with exchange.pace.watch():
                response = await self._http.send(request, stream=True)
                exchange.answered = True
                try:
                    return response, await read_capped(response, self._max_answer)
                finally:
                    await response.aclose()
        except httpx.ConnectError as e:
            raise _Unreached(f"upload failed: {type(e).__name__}") from e
        except httpx.TransportError as e:
            after_body = exchange.pace.finished
            raise HostNotAnswering(
                f"upload failed: {type(e).__name__}", after_body=after_body
            ) from e

    async def _get_status(self, url: str) -> int:
        """The status of a GET of ``url``; its body is not read (closing drops it)."""
        try:
            async with self._http.stream("GET", url) as response:
                status = response.status_code
        except httpx.TransportError as e:
            raise HostNotAnswering(f"request failed: {type(e).__name__}") from e
        if status >= 500:
            raise NotTheApi(f"host answered HTTP {status}")
        return status

    async def _retrying(
        self,
        attempt: Callable[[], Awaitable[T]],
        retried: type[HostUnavailable] = HostUnavailable,
    ) -> T:
        """Runs ``attempt`` up to ``tries`` times, backing off exponentially, while it fails
        with ``retried``. Only a kind of HostUnavailable is retried: any other answer is the
        host's decision and would repeat."""
        for number in range(1, self._tries):
            try:
                return await attempt()
            except Redirected:
                raise
            except retried as e:
                delay = self._backoff * 2 ** (number - 1)
                log.warning("host unavailable (%s); try %d, next in %.2fs", e, number, delay)
                await asyncio.sleep(delay)
        return await attempt()

"""Links users send: checked, fetched, and judged by their first bytes.

A server that fetches URLs for strangers can be turned against what only it reaches: its
own loopback, the network behind it, a cloud's metadata address. So the fetcher resolves
each host name itself, refuses the link when any of its addresses is not public, and
connects to the very address it checked, naming the host in the ``Host`` header and in TLS
(SNI and the certificate check): no second lookup can answer otherwise. Every redirect is
a new link, checked the same way. The body streams under the size limit, and its type is
judged from its first bytes, never from the server's word nor the URL's ending.

A server may also hold the bot by sending slowly: a fetch is cut when it moves fewer than
MIN_TRANSFER_KBPS over a window of its time, and ends at LINK_DEADLINE plus 1 s per MB the
server declares, counted from the fetch's start (``Download.pace``; ``bot.ops.transfer``).

Logs name a link's host only: its path and query may hold a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.message
import ipaddress
import logging
import math
import re
from collections.abc import AsyncIterator
from typing import Final

import httpx

from bot.domain import MediaKind, media_kind
from bot.errors import (
    AddressRefused,
    LinkBadStatus,
    LinkHasCredentials,
    LinkIsPage,
    LinkNotMedia,
    LinkSchemeRefused,
    LinkTooSlow,
    LinkUnreachable,
    LinkWithoutHost,
    MediaTooLarge,
    NotALink,
    TooManyRedirects,
)
from bot.links.addresses import (
    AddressPolicy,
    IPAddress,
    Resolver,
    address_allowed,
    any_address,
    ip_literal,
    resolve,
)
from bot.links.sniff import EXTENSIONS, HEAD_BYTES, is_html, sniff
from bot.ops.tls import tls_context
from bot.ops.transfer import Floor, Pace

log = logging.getLogger(__name__)


SCHEMES: Final = ("http", "https")
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_MB: Final = 1024 * 1024
_NAME_CHARS: Final = 100
_UNSAFE: Final = re.compile(r"[^\w.\- ]+")
"""What a file name keeps: letters and digits of any script, ``_ . -`` and spaces."""
SECONDS_PER_MB: Final = 1.0
"""More time for the whole fetch per MB its server declares, beyond LINK_DEADLINE."""
_HEADERS: Final = {"Accept-Encoding": "identity", "User-Agent": "chevereto-bot"}
"""Identity, so that Content-Length is the file's size and the limit counts the file's bytes."""


def single_link(text: str | None) -> str | None:
    """The link when a message's text is one http(s) link and nothing else, else None: such a
    message asks for that link's upload. Whether the bot fetches it is ``check_link``'s."""
    link = (text or "").strip()
    if not link or _has_space(link) or not link.lower().startswith(("http://", "https://")):
        return None
    return link


def check_link(text: str) -> str:
    """The link, stripped, when the text is exactly one http(s) URL with a host and without
    credentials; else the typed error that says why not."""
    link = text.strip()
    _parse(link)
    return link


class Download:
    """The file at a link, judged by its first bytes. Its body is read once, by ``chunks``,
    within the ``LinkFetcher.open`` block, and within ``pace.watch()``."""

    def __init__(
        self,
        *,
        content_type: str,
        kind: MediaKind,
        filename: str,
        size: int | None,
        head: bytes,
        rest: AsyncIterator[bytes],
        limit_bytes: int,
        host: str,
        pace: Pace,
    ) -> None:
        self.content_type = content_type
        self.kind = kind
        self.filename = filename
        self.size = size
        """The size the server declared (Content-Length), or None when it did not."""
        self.pace = pace
        """The server's side of the fetch, begun with it: whoever reads ``chunks`` does so
        within ``pace.watch()`` and counts what it reads (``pace.moved``)."""
        self._head = head
        self._rest = rest
        self._limit = limit_bytes
        self._host = host

    async def chunks(self) -> AsyncIterator[bytes]:
        """Every byte of the body, the first ones included; raises MediaTooLarge once more
        than the limit came, and LinkUnreachable when the server stops answering."""
        received = len(self._head)
        if received > self._limit:
            raise MediaTooLarge(_limit_mb(self._limit))
        yield self._head
        try:
            async for chunk in self._rest:
                received += len(chunk)
                if received > self._limit:
                    raise MediaTooLarge(_limit_mb(self._limit))
                yield chunk
        except httpx.TransportError as error:
            raise LinkUnreachable(self._host) from error


class LinkFetcher:
    """Fetches the file at a link a user sent, as a server fetching for strangers must: only
    public addresses (unless ``allow_private``), at most ``max_redirects`` redirects, at
    most ``limit_bytes``.

    ``resolver`` replaces the system's; ``allowed`` replaces the address policy (by default
    ``address_allowed``, or every address with ``allow_private``).
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        limit_bytes: int,
        resolver: Resolver | None = None,
        allowed: AddressPolicy | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        max_redirects: int = 5,
        floor: Floor | None = None,
        deadline_s: float = 60.0,
    ) -> None:
        self._allowed = allowed or (any_address if allow_private else address_allowed)
        self._limit = limit_bytes
        self._resolver = resolver or resolve
        self._connect_timeout = connect_timeout
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._max_redirects = max_redirects
        self._floor = floor or Floor()
        self._deadline_s = deadline_s
        """LINK_DEADLINE: the whole fetch's time, before what its server declares adds to it."""

    @property
    def limit_mb(self) -> int:
        """The size limit, in whole megabytes (as MediaTooLarge says it)."""
        return _limit_mb(self._limit)

    @contextlib.asynccontextmanager
    async def open(self, link: str) -> AsyncIterator[Download]:
        """The file at ``link``, its first bytes read and judged, all under its pace (not the
        block's own work: its reader watches the body); the connection closes with the block."""
        parsed = _parse(link)
        pace = Pace(self._floor, lambda: LinkTooSlow(parsed.host), within_s=self._deadline_s)
        async with self._client() as client:
            async with pace.watch():
                response, url = await self._follow(client, parsed)
            try:
                async with pace.watch():
                    download = await self._download(response, url, pace)
                yield download
            finally:
                await response.aclose()

    def _client(self) -> httpx.AsyncClient:
        """A client for one link, which uses no connection twice: the pool knows a connection
        by address, and one address may serve names of different owners. The environment is
        not trusted: a proxy there would resolve names anew, .netrc would lend credentials."""
        return httpx.AsyncClient(
            timeout=self._timeout,
            limits=httpx.Limits(max_keepalive_connections=0),
            follow_redirects=False,
            trust_env=False,
            verify=tls_context(),
        )

    async def _follow(
        self, client: httpx.AsyncClient, url: httpx.URL
    ) -> tuple[httpx.Response, httpx.URL]:
        """The first answer that is not a redirect, and the link it answers."""
        log.info("fetching a link from %s", url.host)
        redirects = 0
        while True:
            response = await self._get(client, url)
            if not _redirects(response):
                return response, url
            await response.aclose()
            if redirects == self._max_redirects:
                raise TooManyRedirects(self._max_redirects)
            redirects += 1
            url = _next_link(url, response)
            log.info("the link redirects to %s", url.host)

    async def _get(self, client: httpx.AsyncClient, url: httpx.URL) -> httpx.Response:
        """The answer's head, from the first of the host's checked addresses that takes
        the connection."""
        addresses = await self._addresses(url)
        headers = {**_HEADERS, "Host": url.netloc.decode("ascii")}
        extensions: dict[str, str] = {}
        if url.scheme == "https" and ip_literal(url.host) is None:
            extensions["sni_hostname"] = url.raw_host.decode("ascii")
        refused: httpx.TransportError | None = None
        for address in addresses:
            pinned = url.copy_with(host=str(address))
            request = client.build_request("GET", pinned, headers=headers, extensions=extensions)
            try:
                return await client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                refused = error
            except httpx.TransportError as error:
                raise LinkUnreachable(url.host) from error
        raise LinkUnreachable(url.host) from refused

    async def addresses(self, link: str) -> list[IPAddress]:
        """Every address the link may be fetched from, each one allowed; else the typed error
        that says why not. Resolves the name, connects to nothing."""
        return await self._addresses(_parse(link))

    async def _addresses(self, url: httpx.URL) -> list[IPAddress]:
        """Every address the link's host stands for, each one allowed; else AddressRefused,
        and nothing is connected."""
        literal = ip_literal(url.host)
        found = [literal] if literal is not None else await self._resolve(url)
        refused = [address for address in found if not self._allowed(address)]
        if refused:
            log.info("a link to %s is refused: it leads to %s", url.host, refused[0])
            raise AddressRefused(url.host)
        return found

    async def _resolve(self, url: httpx.URL) -> list[IPAddress]:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            async with asyncio.timeout(self._connect_timeout):
                names = await self._resolver(url.raw_host.decode("ascii"), port)
        except (OSError, TimeoutError) as error:  # socket.gaierror is an OSError
            raise LinkUnreachable(url.host) from error
        return [ipaddress.ip_address(name) for name in names]

    async def _download(self, response: httpx.Response, url: httpx.URL, pace: Pace) -> Download:
        """Refuses what is not a file of the allowed size, then reads and judges the first
        bytes. A declared size gives the fetch more time."""
        if response.status_code != 200:
            raise LinkBadStatus(response.status_code)
        size = _declared_size(response)
        if size is not None and size > self._limit:
            raise MediaTooLarge(_limit_mb(self._limit))
        if size is not None:
            pace.allow(SECONDS_PER_MB * size / _MB)
        rest = response.aiter_bytes()
        head = await _read_head(rest, url.host)
        content_type = sniff(head)
        kind = media_kind(content_type)
        if content_type is None or kind is None:
            raise LinkIsPage() if is_html(head) else LinkNotMedia()
        return Download(
            content_type=content_type,
            kind=kind,
            filename=_filename(response, url, content_type),
            size=size,
            head=head,
            rest=rest,
            limit_bytes=self._limit,
            host=url.host,
            pace=pace,
        )


def _parse(link: str) -> httpx.URL:
    if not link or _has_space(link):
        raise NotALink()
    try:
        url = httpx.URL(link)
    except httpx.InvalidURL as error:
        raise NotALink() from error
    if url.port is not None and not 0 < url.port < 65536:
        raise NotALink()  # httpx takes any number
    if url.scheme not in SCHEMES:
        raise LinkSchemeRefused()
    if url.userinfo:
        raise LinkHasCredentials()
    if not url.host:
        raise LinkWithoutHost()
    return url


def _has_space(text: str) -> bool:
    return any(char.isspace() for char in text)


def _redirects(response: httpx.Response) -> bool:
    return response.status_code in _REDIRECTS and "location" in response.headers


def _next_link(url: httpx.URL, response: httpx.Response) -> httpx.URL:
    """Where a redirect leads, relative to the link it answers; a Location that is no URL is
    the server's fault, said by its status."""
    try:
        return _parse(redirected(str(url), response.headers["location"]))
    except httpx.InvalidURL as error:
        raise LinkBadStatus(response.status_code) from error


def redirected(link: str, location: str) -> str:
    """The link a redirect's Location leads to from ``link``: checked then as a new link."""
    return str(httpx.URL(link).join(location))


def _declared_size(response: httpx.Response) -> int | None:
    """Content-Length when it is the file's size: none with a content coding, which the
    server may use although the request asked for none."""
    if response.headers.get("content-encoding", "identity").lower() != "identity":
        return None
    length = response.headers.get("content-length", "")
    return int(length) if length.isascii() and length.isdigit() else None


async def _read_head(body: AsyncIterator[bytes], host: str) -> bytes:
    """The body's first bytes: at least HEAD_BYTES, or all of a shorter body."""
    head = b""
    try:
        async for chunk in body:
            head += chunk
            if len(head) >= HEAD_BYTES:
                break
    except httpx.TransportError as error:
        raise LinkUnreachable(host) from error
    return head


def _filename(response: httpx.Response, url: httpx.URL, content_type: str) -> str:
    """The server's name for the file, else the link's last path segment, made safe and
    given an ending that fits its type; ``link.<ending>`` when neither names it."""
    disposition = response.headers.get("content-disposition")
    named = _disposition_name(disposition) if disposition else None
    base = (named or url.path).replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ending = base.rpartition(".")
    if not dot:
        stem, ending = base, ""
    stem = _UNSAFE.sub("_", stem).strip(" ._")[:_NAME_CHARS] or "link"
    endings = EXTENSIONS[content_type]
    return f"{stem}.{ending.lower() if ending.lower() in endings else endings[0]}"


def _disposition_name(value: str) -> str | None:
    """The ``filename`` (or RFC 2231 ``filename*``) of a Content-Disposition header."""
    message = email.message.Message()
    message["content-disposition"] = value
    return message.get_filename()


def _limit_mb(limit_bytes: int) -> int:
    return math.ceil(limit_bytes / _MB)

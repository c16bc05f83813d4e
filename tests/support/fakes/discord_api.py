"""A fake Discord on 127.0.0.1: REST API, gateway WebSocket and attachment CDN.

The real discord.py talks to it over real HTTP and WebSocket once its REST base
points here (``discord.http.Route.BASE = fake.api_url``, which interaction
callbacks and follow-up webhooks read too); ``GET /gateway/bot`` then hands the
client this fake's gateway URL and shard count. Builders make the payloads
Discord would send (users, guilds, messages, interactions), every request the
bot makes is recorded in ``fake.requests``, and ``fake.fail()`` makes the next
matching requests answer with an error, 429s included.

Behaviour copied from Discord because bots trip over it:
- JSON answers carry ``Content-Type: application/json`` exactly and every answer
  carries ``Via``: discord.py parses nothing else as JSON and treats a 429
  without ``Via`` as a Cloudflare ban instead of retrying it.
- REST needs ``Authorization: Bot <token>``, except interaction callbacks and
  interaction webhooks; a follow-up before the interaction is answered is an
  unknown webhook; an interaction can be answered once.
- Without the MESSAGE_CONTENT intent the gateway blanks content, embeds,
  attachments and components of guild messages that do not mention the bot;
  without GUILD_MESSAGES / DIRECT_MESSAGES such messages are not sent at all.
- When the client asks for ``compress=zlib-stream`` frames are zlib-compressed
  with one shared context per connection, each ending in ``00 00 ff ff``.

Channels keep their past, read over REST (``GET /channels/{id}/messages``):
- History holds, in id order, messages seeded in the past (``history_message``,
  ``seed_history``: ids encode their dates, ``snowflake_at``), users' posts
  (``message_create``) and the bot's own, ephemeral answers excepted; ``fake.history(id)``.
- Pages as Discord's: ``limit`` 1..100 (default 50; else 400 / 50035), at most one of
  ``before``, ``after``, ``around``, and newest first in every case: discord.py's
  ``history(after=...)`` goes on from the first message of a page and reverses it.
- Threads (``add_thread``) and forum posts (``forum_post``: the first message has the
  thread's id) are channels of their own with ``parent_id`` and ``message_count``; a
  channel is NSFW with ``"nsfw": True`` in ``add_guild(channels=...)``.
- The bot joins a guild with its managed role (``bot_role``). ``overwrite()`` sets a
  channel's permission overwrites, which discord.py reads in GUILD_CREATE, interactions
  carry in ``app_permissions`` and the routes obey: without View Channel a channel, its
  messages and its history are 403 / 50001 Missing Access; without Read Message History
  one message is 403 / 50001 and a history page is empty, with no error, as Discord
  answers.
- Without the MESSAGE_CONTENT intent approved (``privileged_intents``), REST reads of
  guild messages are blank as the gateway's are. Mentions in a seeded message's content
  fill ``mentions`` and ``mention_roles``; ``add_attachment(spoiler=True)`` names and
  flags a spoiler.
- ``fake.fail("GET", HISTORY_PATH, status=429, retry_after=..., times=n)`` rate-limits the
  next history reads.

The CDN serves attachments at ``bandwidth`` bytes per second (None: no limit), records
each download in ``fake.transfers`` with when it started and finished, and can cut the
next one in the middle (``cut_next_download``); ``add_attachment(declared_size=...)``
declares a size that is not the file's. Its links are signed (``ex``, ``is``, ``hm``) and
answer for a day by the CDN's clock, then 404 as Discord's do; GET of a message signs
its attachments' links afresh. A history page carries the links as last issued (Discord
signs every answer afresh; here a test can hand a reader stale links, as holding a page
for long does): ``expire_attachment_urls()`` or ``add_attachment(expires_at=...)`` make
them stale, ``delete_attachment()`` makes a file 404 for good. Files the bot sends are
recorded (``RecordedRequest.files``: name and bytes) and served as its message's
attachments, typed from their names as Discord types them.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import logging
import math
import mimetypes
import re
import secrets
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import quote

from aiohttp import BodyPartReader, WSMsgType, web
from multidict import CIMultiDict

from tests.support.fakes.discord_history import (
    LINK_LIFETIME_S,
    READ_MESSAGE_HISTORY,
    VIEW_CHANNEL,
    ChannelHistory,
    InvalidForm,
    SignedLinks,
    channel_permissions,
    guild_permissions,
    history_query,
    mentioned,
)
from tests.support.fakes.transfer import Transfer, Transfers
from tests.support.leaks import issued

JSON = dict[str, Any]
_log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Any]

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
JSON_TYPE = {"Content-Type": "application/json"}

GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

# View channel, send, embed links, attach files, read history, external emoji, use commands.
DEFAULT_APP_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 18)
DEFAULT_APP_PERMISSIONS |= 1 << 31
# Everyone may view, send, read history and use commands unless a role says otherwise.
DEFAULT_EVERYONE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 16) | (1 << 31)

SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
LOADING = 1 << 7
IS_SPOILER = 1 << 3  # an attachment's flag
THREAD_TYPES = {10, 11, 12}

HISTORY_PATH = r"^/channels/\d+/messages$"
"""The path ``fake.fail("GET", HISTORY_PATH, ...)`` matches to fail history reads."""

MESSAGE_EVENTS = {"MESSAGE_CREATE", "MESSAGE_UPDATE"}
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")


@dataclass(frozen=True, slots=True)
class RecordedFile:
    """One file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def size(self) -> int:
        """The number of bytes sent."""
        return len(self.data)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One HTTP request the bot made, with the status the fake answered."""

    method: str
    path: str  # relative to api_url ("/channels/1/messages"), or "/attachments/..." on the CDN
    query: Mapping[str, str]
    headers: Mapping[str, str]  # case-insensitive
    json: Any  # the JSON body, or the decoded payload_json of a multipart body
    files: tuple[RecordedFile, ...]
    status: int
    at: float = field(default_factory=time.monotonic)
    """When it was answered (``time.monotonic``)."""


# Middleware reads each body once and hands it to the handlers under these keys.
_BODY: web.RequestKey[Any] = web.RequestKey("fake_discord_body", object)
_FILES: web.RequestKey[tuple[RecordedFile, ...]] = web.RequestKey("fake_discord_files", tuple)


@dataclass(frozen=True, slots=True)
class ResolvedOption:
    """An interaction option that needs resolved data (an attachment, a user ...)."""

    option: JSON
    resolved: JSON


class Identify(NamedTuple):
    """What one IDENTIFY asked for."""

    shard_id: int
    shard_count: int
    intents: int


@dataclass(slots=True)
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: JSON | None
    retry_after: float | None
    times: int


@dataclass(slots=True)
class _Blob:
    attachment: JSON
    data: bytes | None
    path: Path | None
    gone: bool = False  # deleted for good: the CDN answers 404 however fresh the link
    issued: int = 0  # when its newest link was issued (unix seconds on the CDN's clock)


@dataclass(slots=True)
class _Interaction:
    id: int
    token: str
    type: int
    user: JSON
    channel_id: int
    guild_id: int | None
    message_id: int | None  # the message a component sits on
    response_type: int | None = None
    original_id: int | None = None
    message_ids: set[int] = field(default_factory=set)


@dataclass(eq=False, slots=True)
class _Connection:
    ws: web.WebSocketResponse
    compressor: Any  # zlib.compressobj() for zlib-stream, None for plain text frames
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    seq: int = 0
    shard: tuple[int, int] | None = None
    intents: int = 0

    async def send(self, op: int, data: Any, event: str | None = None) -> None:
        """Send one gateway frame; dispatches get the next sequence number."""
        async with self.lock:
            seq = None
            if event is not None:
                self.seq += 1
                seq = self.seq
            text = json.dumps({"op": op, "d": data, "s": seq, "t": event})
            if self.compressor is None:
                await self.ws.send_str(text)
                return
            body = self.compressor.compress(text.encode())
            await self.ws.send_bytes(body + self.compressor.flush(zlib.Z_SYNC_FLUSH))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _utc(when: dt.datetime | None) -> dt.datetime:
    """``when`` (now when None), a naive datetime being UTC."""
    if when is None:
        return dt.datetime.now(dt.UTC)
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _ms(when: dt.datetime) -> int:
    """Unix milliseconds of ``when``, a naive datetime being UTC."""
    return int(_utc(when).timestamp() * 1000)


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body).encode(), headers={**JSON_TYPE, **(headers or {})}
    )


LINK_BUTTON_SCHEMES = ("http", "https", "discord")


def _refused_link_button(body: Any) -> web.Response | None:
    """Discord's 400 for a link button (type 2, style 5) whose URL has another scheme."""
    for url in _link_button_urls(body):
        scheme = url.partition(":")[0].lower() if ":" in url else ""
        if scheme not in LINK_BUTTON_SCHEMES:
            problem = (
                f'Scheme "{scheme}" is not supported. Scheme must be one of {LINK_BUTTON_SCHEMES}.'
            )
            errors = {
                "url": {"_errors": [{"code": "URL_TYPE_INVALID_PROTOCOL", "message": problem}]}
            }
            return _json({"code": 50035, "message": "Invalid Form Body", "errors": errors}, 400)
    return None


def _link_button_urls(value: Any) -> list[str]:
    """The URLs of every link button anywhere in a request's JSON body."""
    if isinstance(value, list):
        return [url for item in value for url in _link_button_urls(item)]
    if not isinstance(value, dict):
        return []
    own = [str(value.get("url", ""))] if (value.get("type"), value.get("style")) == (2, 5) else []
    return own + [url for item in value.values() for url in _link_button_urls(item)]


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status)


def _is_true(value: str | None) -> bool:
    return (value or "").lower() in {"1", "true"}


class FakeDiscord:
    """Discord's REST API, gateway and CDN for one bot, served on 127.0.0.1."""

    def __init__(
        self,
        token: str,
        *,
        shard_count: int = 1,
        bot_id: int = 900_000_000_000_000_001,
        application_id: int | None = None,
        compress: bool = True,
        privileged_intents: int = PRIVILEGED_INTENTS,
        heartbeat_interval_ms: int = 41_250,
        attachment_size_limit: int = 10 * 1024 * 1024,
        port: int = 0,
        bandwidth: float | None = None,
    ) -> None:
        self.token = issued("token", token)
        self.shard_count = shard_count
        self.bot_id = bot_id
        self.application_id = application_id or bot_id
        self.compress = compress
        self.privileged_intents = privileged_intents
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.attachment_size_limit = attachment_size_limit
        self.requests: list[RecordedRequest] = []
        self.identifies: list[Identify] = []
        self.commands: dict[int | None, list[JSON]] = {}
        self.messages: dict[int, JSON] = {}
        self.errors: list[Exception] = []
        self.port = port
        """0 until started, unless given: a test of a bot started before Discord names one."""
        self.bandwidth = bandwidth
        """Bytes per second the CDN serves an attachment at; None: as fast as it goes."""
        self._transfers = Transfers()
        self._last_ms = 0
        self._low_bits: dict[int, int] = {}  # per millisecond: the next id's increment
        self._history = ChannelHistory()
        self._links = SignedLinks(secrets.token_bytes(32))
        self._cdn_skew = 0.0  # seconds the CDN's clock runs ahead (expire_attachment_urls)
        self._latest_expiry = 0
        self._users: dict[int, JSON] = {}
        self._guilds: dict[int, JSON] = {}
        self._channels: dict[int, JSON] = {}
        self._dms: dict[int, int] = {}
        self._closed_dms: set[int] = set()
        self._blobs: dict[int, _Blob] = {}
        self._interactions: dict[str, _Interaction] = {}
        self._failures: list[_Failure] = []
        self._shards: dict[int, _Connection] = {}
        self._connections: set[_Connection] = set()
        self._recorded = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._cdn_channel = self.snowflake()
        self.bot_user = self.user(bot_id, name="fakebot", bot=True)

    # -- lifecycle ---------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application(middlewares=[self._middleware], client_max_size=1024**3)
        self._add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for conn in list(self._connections):
            await conn.ws.close(code=1000)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """Where the fake listens, without a path."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The value for ``discord.http.Route.BASE``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The gateway URL that ``GET /gateway/bot`` hands out."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def downloads(self) -> list[RecordedRequest]:
        """The CDN requests, in order."""
        return [r for r in self.requests if r.path.startswith("/attachments/")]

    @property
    def transfers(self) -> list[Transfer]:
        """Every CDN download that began, in order (``file`` is the attachment id), with when
        it started and finished."""
        return self._transfers.done

    def download_count(self, attachment_id: str) -> int:
        """How many times the attachment was downloaded from the CDN (cut downloads included)."""
        return self._transfers.count(attachment_id)

    # -- test controls -----------------------------------------------------

    def cut_next_download(self, at: int | None = None, times: int = 1) -> None:
        """The next ``times`` CDN downloads send ``at`` bytes of the file (half by default)
        under the whole file's Content-Length, then close the connection."""
        self._transfers.cut_next(at, times)

    def fail(
        self,
        method: str,
        path_regex: str,
        *,
        status: int,
        body: JSON | None = None,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests whose path matches with ``status``.

        A 429 gets Discord's rate-limit headers and, unless ``body`` is given,
        ``{"message": ..., "retry_after": retry_after, "global": false}``.
        """
        pattern = re.compile(path_regex)
        self._failures.append(_Failure(method.upper(), pattern, status, body, retry_after, times))

    def dms_to(self, user_id: int) -> list[JSON]:
        """The messages in the bot's DM with the user, oldest first (none if never opened)."""
        channel = str(self._dms.get(user_id))
        return [m for m in self.messages.values() if m["channel_id"] == channel]

    def close_dms(self, user_id: int) -> None:
        """Make messages to this user's DM channel fail with 403 / 50007."""
        self._closed_dms.add(user_id)

    async def wait_for(
        self,
        predicate: Callable[[RecordedRequest], bool],
        *,
        timeout: float = 10,
    ) -> RecordedRequest:
        """Return the first recorded request matching ``predicate``, waiting for it."""
        checked = 0
        try:
            async with self._recorded, asyncio.timeout(timeout):
                while True:
                    for request in self.requests[checked:]:
                        if predicate(request):
                            return request
                    checked = len(self.requests)
                    await self._recorded.wait()
        except TimeoutError:
            seen = [f"{r.method} {r.path} -> {r.status}" for r in self.requests]
            raise TimeoutError(f"no matching request within {timeout}s; saw {seen}") from None

    async def dispatch(self, event: str, data: JSON, *, shard_id: int | None = None) -> bool:
        """Send a gateway DISPATCH to the shard that owns it; False if intents filter it out.

        The shard comes from ``data["guild_id"]`` when not given; DMs go to shard 0.
        """
        if shard_id is None:
            guild_id = data.get("guild_id")
            shard_id = self._shard_of(int(guild_id)) if guild_id else 0
        conn = self._shards.get(shard_id)
        if conn is None:
            raise LookupError(f"shard {shard_id} is not connected (have {sorted(self._shards)})")
        seen = self._as_seen_by(conn, event, data)
        if seen is None:
            return False
        await conn.send(0, seen, event)
        return True

    # -- builders ----------------------------------------------------------

    def snowflake(self) -> int:
        """A new, increasing Discord id for the current time."""
        self._last_ms = max(int(time.time() * 1000), self._last_ms)
        return self._id_at(self._last_ms)

    def snowflake_at(self, when: dt.datetime) -> int:
        """A new Discord id dated ``when`` (UTC when naive): ``(ms - DISCORD_EPOCH_MS) << 22``
        plus an increment, so ids of one millisecond still differ and grow."""
        return self._id_at(_ms(when))

    def _id_at(self, ms: int) -> int:
        low = self._low_bits.get(ms, 0)
        self._low_bits[ms] = low + 1
        return ((ms - DISCORD_EPOCH_MS) << 22) | low

    def user(
        self, user_id: int, name: str = "u", locale: str = "en-US", *, bot: bool = False
    ) -> JSON:
        """A user object, remembered for ``GET /users/{id}`` and DMs."""
        user = {
            "id": str(user_id),
            "username": name,
            "discriminator": "0",
            "global_name": None if bot else name.title(),
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
            "flags": 0,
            "locale": locale,
            "verified": True,
            "mfa_enabled": False,
        }
        self._users[user_id] = user
        return user

    def member(self, user: JSON, *, roles: Iterable[int] = (), nick: str | None = None) -> JSON:
        """A guild member object for ``add_guild(members=...)``."""
        return {
            "user": user,
            "roles": [str(r) for r in roles],
            "nick": nick,
            "avatar": None,
            "joined_at": _now(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }

    def add_guild(
        self,
        guild_id: int,
        *,
        name: str = "guild",
        owner_id: int | None = None,
        channels: Iterable[int | JSON] = (),
        members: Iterable[JSON] = (),
        roles: Iterable[JSON] = (),
        locale: str = "en-US",
    ) -> JSON:
        """Register a guild the bot is in; its GUILD_CREATE follows READY on its shard.

        Channels are ids (text channels) or channel dicts; members are user dicts
        or ``member()`` dicts; roles are dicts with at least ``id`` and ``name``.
        The @everyone role is added when missing, and the bot's own member with its managed
        role (``bot_role``) granting the app's default permissions, as an invite makes it.
        """
        role_list = [self._role(guild_id, r) for r in roles]
        if not any(r["id"] == str(guild_id) for r in role_list):
            everyone = {"id": guild_id, "name": "@everyone"}
            role_list.insert(0, self._role(guild_id, everyone))
        member_list = [m if "user" in m else self.member(m) for m in members]
        if not any(m["user"]["id"] == str(self.bot_id) for m in member_list):
            own = self._role(guild_id, self._managed_role())
            role_list.append(own)
            member_list.append(self.member(self.bot_user, roles=[int(own["id"])]))
        channel_list = [self._guild_channel(guild_id, c, i) for i, c in enumerate(channels)]
        guild = {
            **self._guild_basics(guild_id, name, owner_id or self.bot_id, locale),
            "roles": role_list,
            "channels": channel_list,
            "members": member_list,
            "member_count": len(member_list),
        }
        self._guilds[guild_id] = guild
        return guild

    def bot_role(self, guild_id: int) -> int:
        """The id of the bot's managed role in the guild, e.g. for ``overwrite(role=True)``."""
        for role in self._guilds[guild_id]["roles"]:
            if role.get("tags", {}).get("bot_id") == str(self.bot_id):
                return int(role["id"])
        raise LookupError(f"the bot has no managed role in guild {guild_id}")

    def _managed_role(self) -> JSON:
        """The role Discord makes for a bot it adds to a guild."""
        return {
            "id": self.snowflake(),
            "name": self.bot_user["username"],
            "permissions": DEFAULT_APP_PERMISSIONS,
            "managed": True,
            "position": 1,
            "tags": {"bot_id": str(self.bot_id)},
        }

    def add_attachment(
        self,
        data: bytes | bytearray | Path,
        *,
        filename: str,
        content_type: str | None,
        declared_size: int | None = None,
        width: int | None = None,
        height: int | None = None,
        spoiler: bool = False,
        description: str | None = None,
        expires_at: dt.datetime | None = None,
    ) -> JSON:
        """Serve ``data`` (bytes, or a file on disk for huge ones) on the fake CDN.

        Returns the attachment object; ``size`` is ``declared_size`` when given. A spoiler
        (``spoiler``, or a name starting ``SPOILER_``) is named ``SPOILER_...`` and flagged
        as Discord does. Its link answers for a day, or until ``expires_at`` (a past one: a
        link that is stale from the start; GET of its message gives a fresh one).
        """
        attachment_id = self.snowflake()
        path, blob = (data, None) if isinstance(data, Path) else (None, bytes(data))
        size = path.stat().st_size if path is not None else len(blob or b"")
        if spoiler and not filename.startswith("SPOILER_"):
            filename = f"SPOILER_{filename}"
        attachment = {
            "id": str(attachment_id),
            "filename": filename,
            "size": size if declared_size is None else declared_size,
            "content_type": content_type,
            "width": width,
            "height": height,
            "flags": IS_SPOILER if filename.startswith("SPOILER_") else 0,
        }
        if description is not None:
            attachment["description"] = description
        self._blobs[attachment_id] = _Blob(attachment, blob, path)
        expires = _ms(expires_at) // 1000 if expires_at is not None else None
        self._sign(attachment, expires)
        return attachment

    def delete_attachment(self, attachment_id: int | str) -> None:
        """The file is gone for good: the CDN answers 404 even to a fresh link (the message
        still lists it)."""
        self._blobs[int(attachment_id)].gone = True

    def expire_attachment_urls(self) -> None:
        """Move the CDN's clock past every link issued so far: each answers 404 until GET of
        its message issues a fresh one (links issued from now on answer for a day)."""
        self._cdn_skew += max(0.0, self._latest_expiry - self._cdn_now())

    def _cdn_now(self) -> float:
        return time.time() + self._cdn_skew

    def _sign(self, attachment: JSON, expires: int | None = None) -> None:
        """Give the attachment a new signed link (``url`` and ``proxy_url``): issued now and
        answering for a day, or until ``expires`` (unix seconds)."""
        blob = self._blobs[int(attachment["id"])]
        if expires is None:
            blob.issued = max(int(self._cdn_now()), blob.issued + 1)  # each link differs
            issued, expires = blob.issued, blob.issued + LINK_LIFETIME_S
        else:
            issued = expires - LINK_LIFETIME_S
        self._latest_expiry = max(self._latest_expiry, expires)
        name = attachment["filename"]
        query = self._links.query(int(attachment["id"]), name, issued, expires)
        route = f"/attachments/{self._cdn_channel}/{attachment['id']}/{quote(name)}"
        attachment["url"] = attachment["proxy_url"] = f"{self.base_url}{route}?{query}"

    def message_create(
        self,
        channel_id: int,
        author: JSON,
        *,
        content: str = "",
        attachments: Iterable[JSON] = (),
        guild_id: int | None = None,
        embeds: Iterable[JSON] = (),
        components: Iterable[JSON] = (),
        mentions: Iterable[JSON] = (),
    ) -> JSON:
        """A MESSAGE_CREATE payload, also kept in its channel's history and for
        ``GET /channels/{id}/messages/{mid}``.

        ``guild_id`` defaults to the guild of a channel registered with ``add_guild``.
        """
        guild_id = self._guild_of(channel_id, guild_id)
        self._ensure_channel(channel_id, guild_id, author)
        message = self._message(channel_id, author, guild_id=guild_id, content=content)
        message.update(
            attachments=list(attachments),
            embeds=list(embeds),
            components=list(components),
            mentions=list(mentions),
        )
        if guild_id is not None:
            message["member"] = self._member_part(guild_id, author)
        self._keep(message)
        return copy.deepcopy(message)

    def history_message(
        self,
        channel_id: int,
        author: JSON,
        *,
        content: str = "",
        attachments: Iterable[JSON] = (),
        at: dt.datetime | None = None,
        embeds: Iterable[JSON] = (),
        guild_id: int | None = None,
    ) -> JSON:
        """A message posted at ``at`` (default now; its id encodes it), kept in the channel's
        history for REST reads and not dispatched.

        Mentions in ``content`` fill ``mentions`` (users the fake knows) and
        ``mention_roles`` as Discord does; ``guild_id`` defaults as in ``message_create``.
        """
        when = _utc(at)
        message_id = self.snowflake_at(when)
        return self._dated(
            channel_id,
            author,
            (message_id, when),
            guild_id=guild_id,
            content=content,
            attachments=attachments,
            embeds=embeds,
        )

    def seed_history(
        self,
        channel_id: int,
        author: JSON,
        count: int,
        *,
        since: dt.datetime,
        every: dt.timedelta = dt.timedelta(minutes=1),
        content: str = "message {n}",
        attachments: Callable[[int], Iterable[JSON]] | None = None,
    ) -> list[JSON]:
        """``count`` messages by ``author``, the first at ``since`` and one each ``every``;
        message ``n`` (from 0) says ``content.format(n=n)`` and carries ``attachments(n)``.
        Fast enough for tens of thousands."""
        return [
            self.history_message(
                channel_id,
                author,
                content=content.format(n=n),
                attachments=attachments(n) if attachments is not None else (),
                at=since + every * n,
            )
            for n in range(count)
        ]

    def history(self, channel_id: int) -> list[JSON]:
        """The channel's history as the fake keeps it, oldest first (no ephemeral messages)."""
        return [self.messages[i] for i in self._history.ids(channel_id)]

    def channel(self, channel_id: int) -> JSON:
        """A copy of a registered channel or thread, e.g. for a CHANNEL_UPDATE dispatch."""
        return copy.deepcopy(self._channels[channel_id])

    def overwrite(
        self, channel_id: int, target_id: int, *, allow: int = 0, deny: int = 0, role: bool = False
    ) -> JSON:
        """Set a guild channel's permission overwrite for a member (the bot: ``fake.bot_id``)
        or, with ``role``, a role (@everyone's id is the guild's), replacing an earlier one.

        discord.py sees it in GUILD_CREATE, or after dispatching CHANNEL_UPDATE with
        ``fake.channel(id)``; the REST routes obey it (threads follow their parent).
        Returns the channel.
        """
        channel = self._channels[channel_id]
        kind = 0 if role else 1
        kept = [
            o
            for o in channel["permission_overwrites"]
            if (o["id"], o["type"]) != (str(target_id), kind)
        ]
        entry = {"id": str(target_id), "type": kind, "allow": str(allow), "deny": str(deny)}
        channel["permission_overwrites"] = [*kept, entry]
        return channel

    def add_thread(
        self,
        parent_id: int,
        *,
        name: str = "thread",
        private: bool = False,
        archived: bool = False,
        owner_id: int | None = None,
        at: dt.datetime | None = None,
    ) -> JSON:
        """A thread of a registered guild channel, or a post of a forum (a type 15 channel):
        its own channel (type 11, 12 when ``private``) with ``parent_id``, created at ``at``,
        whose ``message_count`` follows the messages kept in it. Active ones come in the
        guild's GUILD_CREATE; add them before the client connects, or dispatch THREAD_CREATE
        with ``fake.channel(id)``. Returns the thread as the fake keeps it."""
        parent = self._channels[parent_id]
        when = _utc(at)
        thread_id, created = self.snowflake_at(when), when.isoformat()
        metadata: JSON = {"archived": archived, "auto_archive_duration": 1440, "locked": False}
        metadata |= {"archive_timestamp": created, "create_timestamp": created}
        if private:
            metadata["invitable"] = True
        thread = {
            "id": str(thread_id),
            "type": 12 if private else 11,
            "guild_id": parent["guild_id"],
            "parent_id": str(parent_id),
            "owner_id": str(owner_id or self.bot_id),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "total_message_sent": 0,
            "member_count": 1,
            "flags": 0,
            "applied_tags": [],
            "thread_metadata": metadata,
        }
        self._channels[thread_id] = thread
        if not archived:
            self._guilds[int(parent["guild_id"])]["threads"].append(thread)
        return thread

    def forum_post(
        self,
        forum_id: int,
        author: JSON,
        *,
        name: str = "post",
        content: str = "",
        attachments: Iterable[JSON] = (),
        at: dt.datetime | None = None,
    ) -> JSON:
        """A post in a forum channel: a thread whose first message has the thread's id (as
        Discord makes it; ``message_count`` leaves it out) and holds ``content`` and
        ``attachments``. Returns the thread."""
        when = _utc(at)
        thread = self.add_thread(forum_id, name=name, owner_id=int(author["id"]), at=when)
        thread_id = int(thread["id"])
        dated = (thread_id, when)
        self._dated(
            thread_id, author, dated, guild_id=None, content=content, attachments=attachments
        )
        return thread

    def attachment_option(self, name: str, attachment: JSON) -> ResolvedOption:
        """An attachment option (type 11) with its ``resolved.attachments`` entry."""
        option = {"name": name, "type": 11, "value": attachment["id"]}
        resolved = {"attachments": {attachment["id"]: {**attachment, "ephemeral": True}}}
        return ResolvedOption(option, resolved)

    def slash_interaction(
        self,
        name: str,
        *,
        user: JSON,
        channel_id: int,
        guild_id: int | None = None,
        options: Iterable[JSON | ResolvedOption] = (),
        resolved: JSON | None = None,
        locale: str | None = None,
        member_permissions: int | str | None = None,
        app_permissions: int | None = None,
    ) -> JSON:
        """An INTERACTION_CREATE for a chat-input command, aimed at the synced command.

        ``guild_id`` defaults to the guild of a registered channel; ``member_permissions``
        to what the guild's roles grant the user.
        """
        guild_id = self._guild_of(channel_id, guild_id)
        merged = copy.deepcopy(resolved or {})
        plain: list[JSON] = []
        for option in options:
            if isinstance(option, ResolvedOption):
                plain.append(option.option)
                for kind, entries in option.resolved.items():
                    merged.setdefault(kind, {}).update(entries)
            else:
                plain.append(option)
        data: JSON = {"name": name, "type": 1, "options": plain}
        if merged:
            data["resolved"] = merged
        self._target_command(data, guild_id)
        context = {"locale": locale, "permissions": member_permissions, "app": app_permissions}
        return self._interaction(
            2, data, user, channel_id=channel_id, guild_id=guild_id, context=context
        )

    def message_command_interaction(
        self,
        name: str,
        target_message: JSON,
        *,
        user: JSON,
        locale: str | None = None,
        member_permissions: int | str | None = None,
    ) -> JSON:
        """An INTERACTION_CREATE for a message context-menu command on ``target_message``."""
        data: JSON = {
            "name": name,
            "type": 3,
            "target_id": target_message["id"],
            "resolved": {"messages": {target_message["id"]: target_message}},
        }
        guild_id = int(target_message["guild_id"]) if target_message.get("guild_id") else None
        self._target_command(data, guild_id)
        channel_id = int(target_message["channel_id"])
        context = {"locale": locale, "permissions": member_permissions, "app": None}
        return self._interaction(
            2, data, user, channel_id=channel_id, guild_id=guild_id, context=context
        )

    def component_interaction(
        self,
        custom_id: str,
        *,
        user: JSON,
        message: JSON,
        component_type: int = 2,
        values: Iterable[str] | None = None,
        locale: str | None = None,
    ) -> JSON:
        """An INTERACTION_CREATE (type 3) for a button or select on ``message``."""
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        current = copy.deepcopy(self.messages.get(int(message["id"]), message))
        guild_id = int(current["guild_id"]) if current.get("guild_id") else None
        context = {"locale": locale, "permissions": None, "app": None, "message": current}
        channel_id = int(current["channel_id"])
        return self._interaction(
            3, data, user, channel_id=channel_id, guild_id=guild_id, context=context
        )

    # -- payload internals -------------------------------------------------

    def _role(self, guild_id: int, role: JSON) -> JSON:
        everyone = int(role["id"]) == guild_id
        permissions = DEFAULT_EVERYONE_PERMISSIONS if everyone else 0
        defaults = {"color": 0, "colors": {"primary_color": 0}, "hoist": False, "icon": None}
        defaults |= {"position": 0, "permissions": str(permissions), "managed": False}
        defaults |= {"mentionable": False, "flags": 0}
        return {
            **defaults,
            **role,
            "id": str(role["id"]),
            "permissions": str(role.get("permissions", permissions)),
        }

    def _guild_channel(self, guild_id: int, spec: int | JSON, position: int) -> JSON:
        given = {"id": spec} if isinstance(spec, int) else spec
        channel = {
            "type": 0,
            "name": f"channel-{position}",
            "position": position,
            "permission_overwrites": [],
            "parent_id": None,
            "nsfw": False,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
            **given,
            "id": str(given["id"]),
            "guild_id": str(guild_id),
        }
        self._channels[int(channel["id"])] = channel
        return channel

    def _guild_basics(self, guild_id: int, name: str, owner_id: int, locale: str) -> JSON:
        return {
            "id": str(guild_id),
            "name": name,
            "owner_id": str(owner_id),
            "icon": None,
            "features": [],
            "preferred_locale": locale,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "system_channel_flags": 0,
            "afk_timeout": 300,
            "emojis": [],
            "stickers": [],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "large": False,
            "unavailable": False,
            "joined_at": _now(),
        }

    def _dm_channel(self, user: JSON, channel_id: int | None = None) -> JSON:
        """The user's DM channel, opened (with ``channel_id`` if given) on first use."""
        user_id = int(user["id"])
        if user_id not in self._dms or channel_id not in {None, self._dms[user_id]}:
            channel_id = channel_id or self.snowflake()
            self._channels[channel_id] = {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [user],
            }
            self._dms[user_id] = channel_id
        return self._channels[self._dms[user_id]]

    def _guild_of(self, channel_id: int, guild_id: int | None) -> int | None:
        known = self._channels.get(channel_id, {}).get("guild_id")
        return guild_id if guild_id is not None or known is None else int(known)

    def _ensure_channel(self, channel_id: int, guild_id: int | None, user: JSON) -> JSON:
        """The channel, made up on first use: a text channel, or a DM with ``user``."""
        if channel_id in self._channels:
            return self._channels[channel_id]
        if guild_id is not None:
            return self._guild_channel(guild_id, channel_id, 0)
        return self._dm_channel(user, channel_id)

    def _guild_member(self, guild_id: int, user_id: int) -> JSON | None:
        guild = self._guilds.get(guild_id, {})
        found = (m for m in guild.get("members", []) if m["user"]["id"] == str(user_id))
        return next(found, None)

    def _permissions_of(self, guild_id: int, user_id: int, role_ids: list[str]) -> int:
        guild = self._guilds.get(guild_id)
        if guild is None:
            return DEFAULT_EVERYONE_PERMISSIONS
        return guild_permissions(guild, user_id, role_ids)

    def _dated(
        self,
        channel_id: int,
        author: JSON,
        dated: tuple[int, dt.datetime],
        *,
        guild_id: int | None,
        content: str,
        attachments: Iterable[JSON],
        embeds: Iterable[JSON] = (),
    ) -> JSON:
        """A message with this id and date, kept in the channel's history; returns a copy."""
        guild_id = self._guild_of(channel_id, guild_id)
        self._ensure_channel(channel_id, guild_id, author)
        message = self._message(channel_id, author, guild_id=guild_id, content=content, dated=dated)
        message.update(attachments=[dict(a) for a in attachments], embeds=list(embeds))
        message |= self._mentions(content, guild_id)
        if guild_id is not None:
            message["member"] = self._member_part(guild_id, author)
        self._keep(message)
        # A copy the test may change (its attachments too); deepcopy would slow big seeds 4x.
        return {**message, "attachments": [dict(a) for a in message["attachments"]]}

    def _mentions(self, content: str, guild_id: int | None) -> JSON:
        """``mentions`` and ``mention_roles`` for ``content``, as Discord fills them."""
        user_ids, role_ids = mentioned(content)
        users = []
        for user_id in (u for u in user_ids if u in self._users):
            user = dict(self._users[user_id])
            if guild_id is not None:
                user["member"] = self._member_part(guild_id, user)
            users.append(user)
        return {"mentions": users, "mention_roles": [str(r) for r in role_ids]}

    def _member_part(self, guild_id: int, user: JSON) -> JSON:
        """The ``member`` a guild message carries for its author: the member without ``user``."""
        member = self._guild_member(guild_id, int(user["id"])) or self.member(user)
        return {k: v for k, v in member.items() if k != "user"}

    def _keep(self, message: JSON) -> None:
        """Store a message and, unless ephemeral, add it to its channel's history."""
        message_id, channel_id = int(message["id"]), int(message["channel_id"])
        self.messages[message_id] = message
        if message["flags"] & EPHEMERAL:
            return  # seen by one user only: never in the channel's history
        self._history.add(channel_id, message_id)
        channel = self._channels.get(channel_id)
        if channel is None:
            return
        last = channel.get("last_message_id")
        if last is None or int(last) < message_id:
            channel["last_message_id"] = str(message_id)
        if channel["type"] in THREAD_TYPES and message_id != channel_id:
            channel["message_count"] += 1
            channel["total_message_sent"] += 1

    def _forget(self, message: JSON) -> None:
        """Delete a message, from its channel's history too."""
        message_id, channel_id = int(message["id"]), int(message["channel_id"])
        del self.messages[message_id]
        self._history.remove(channel_id, message_id)
        channel = self._channels.get(channel_id, {})
        if channel.get("type") in THREAD_TYPES and message_id != channel_id:
            channel["message_count"] -= 1

    def _message(
        self,
        channel_id: int,
        author: JSON,
        *,
        guild_id: int | None,
        content: str,
        dated: tuple[int, dt.datetime] | None = None,
    ) -> JSON:
        message_id, when = dated if dated is not None else (self.snowflake(), None)
        message: JSON = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": when.isoformat() if when is not None else _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if guild_id is not None:
            message["guild_id"] = str(guild_id)
        return message

    def _target_command(self, data: JSON, guild_id: int | None) -> None:
        """Point interaction data at the synced command, guild-scoped before global."""
        scopes = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for command in self.commands.get(scope, []):
                if command["name"] == data["name"] and command.get("type", 1) == data["type"]:
                    data["id"] = command["id"]
                    if scope is not None:
                        data["guild_id"] = str(scope)
                    return
        data["id"] = str(self.snowflake())

    def _interaction(
        self,
        kind: int,
        data: JSON,
        user: JSON,
        *,
        channel_id: int,
        guild_id: int | None,
        context: JSON,
    ) -> JSON:
        interaction_id = self.snowflake()
        token = f"aW50ZXJhY3Rpb246{interaction_id}"
        channel = self._ensure_channel(channel_id, guild_id, user)
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": context["locale"] or user.get("locale") or "en-US",
            "app_permissions": str(self._app_permissions(channel, context["app"])),
            "entitlements": [],
            "attachment_size_limit": self.attachment_size_limit,
            "channel": channel,
            "channel_id": str(channel_id),
            "context": 1 if guild_id is None else 0,
            "authorizing_integration_owners": {"0": str(guild_id or 0)},
        }
        if guild_id is None:
            payload["user"] = user
        else:
            payload |= self._guild_context(guild_id, user, context["permissions"])
        message = context.get("message")
        if message is not None:
            payload["message"] = message
        message_id = int(message["id"]) if message is not None else None
        self._interactions[token] = _Interaction(
            interaction_id, token, kind, user, channel_id, guild_id, message_id
        )
        return payload

    def _app_permissions(self, channel: JSON, given: int | None) -> int:
        """An interaction's ``app_permissions``: ``given``, else the bot's in the channel."""
        if given is not None:
            return given
        granted = self._bot_permissions(channel)
        return DEFAULT_APP_PERMISSIONS if granted is None else granted

    def _guild_context(self, guild_id: int, user: JSON, permissions: int | str | None) -> JSON:
        member = copy.deepcopy(self._guild_member(guild_id, int(user["id"])) or self.member(user))
        if permissions is None:
            permissions = self._permissions_of(guild_id, int(user["id"]), member["roles"])
        member.update(user=user, permissions=str(permissions))
        locale = self._guilds.get(guild_id, {}).get("preferred_locale", "en-US")
        return {
            "guild_id": str(guild_id),
            "guild_locale": locale,
            "guild": {"id": str(guild_id), "locale": locale, "features": []},
            "member": member,
        }

    def _shard_of(self, guild_id: int) -> int:
        counts = [c.shard[1] for c in self._shards.values() if c.shard is not None]
        return (guild_id >> 22) % (counts[0] if counts else self.shard_count)

    def _as_seen_by(self, conn: _Connection, event: str, data: JSON) -> JSON | None:
        """The payload as Discord would send it to this connection's intents, or None."""
        if event not in MESSAGE_EVENTS:
            return data
        in_guild = data.get("guild_id") is not None
        if not conn.intents & (GUILD_MESSAGES if in_guild else DIRECT_MESSAGES):
            return None
        return self._with_content(data, conn.intents)

    def _with_content(self, data: JSON, intents: int) -> JSON:
        """The message as an app with these intents gets it: without MESSAGE_CONTENT, a guild
        message neither the bot's own nor mentioning it comes without what it says."""
        mentioned = any(u.get("id") == str(self.bot_id) for u in data.get("mentions", []))
        author = data.get("author")  # not always an object: a test may send a malformed one
        own = isinstance(author, dict) and author.get("id") == str(self.bot_id)
        in_guild = data.get("guild_id") is not None
        if intents & MESSAGE_CONTENT or not in_guild or mentioned or own:
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    # -- HTTP plumbing -----------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{channel}/{attachment_id}/{filename}", self._cdn)
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/users/@me", self._get_me),
            ("POST", "/users/@me/channels", self._open_dm),
            ("GET", "/users/{user_id}", self._get_user),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/@me", self._get_application),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", "/applications/{app_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/commands", self._put_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app_id}/{token}", self._followup),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("POST", "/channels/{channel_id}/messages", self._send_message),
            ("GET", "/channels/{channel_id}/messages", self._history_page),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._channel_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._channel_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._channel_message),
            ("GET", "/guilds/{guild_id}", self._get_guild),
            ("GET", "/guilds/{guild_id}/channels", self._get_guild_part),
            ("GET", "/guilds/{guild_id}/roles", self._get_guild_part),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, handler)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)  # type: ignore[no-any-return]
        body, files = await _read_body(request)
        request[_BODY], request[_FILES] = body, files
        path = request.path.removeprefix(API_PREFIX)
        response: web.StreamResponse | None = self._injected_failure(request.method, path)
        response = response or _refused_link_button(body)
        if response is None:
            response = await self._answer(request, handler, path)
        response.headers["Via"] = "1.1 google"
        record = RecordedRequest(
            request.method,
            path,
            dict(request.query),
            CIMultiDict(request.headers),
            body,
            files,
            response.status,
        )
        async with self._recorded:
            self.requests.append(record)
            self._recorded.notify_all()
        return response

    async def _answer(
        self, request: web.Request, handler: Handler, path: str
    ) -> web.StreamResponse:
        if request.path.startswith(API_PREFIX) and not self._authorized(request, path):
            return _error(401, 0, "401: Unauthorized")
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except web.HTTPException as exc:  # no such route or method
            return _error(exc.status, 0, f"{exc.status}: {exc.reason}")
        except Exception as exc:  # a bug in the fake: keep it for the test to see
            self.errors.append(exc)
            _log.exception("fake Discord failed on %s %s", request.method, path)
            return _error(500, 0, "500: Internal Server Error")

    def _authorized(self, request: web.Request, path: str) -> bool:
        if path.startswith(("/interactions/", "/webhooks/")) or path == "/gateway":
            return True
        return request.headers.get("Authorization") == f"Bot {self.token}"

    def _injected_failure(self, method: str, path: str) -> web.Response | None:
        for failure in self._failures:
            if failure.method == method and failure.pattern.search(path):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return _failure_response(failure)
        return None

    # -- REST: users, application, gateway, commands -----------------------

    async def _get_me(self, request: web.Request) -> web.Response:
        return _json(self.bot_user)

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self._users.get(int(request.match_info["user_id"]))
        return _json(user) if user else _error(404, 10013, "Unknown User")

    async def _open_dm(self, request: web.Request) -> web.Response:
        user_id = int(request[_BODY]["recipient_id"])
        user = self._users.get(user_id) or self.user(user_id)
        return _json(self._dm_channel(user))

    async def _get_application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": str(self.application_id),
                "name": self.bot_user["username"],
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self.bot_user,
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": self.bot_user,
                "interactions_endpoint_url": None,
                "integration_types_config": {"0": {}},
            }
        )

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 86_400_000, "max_concurrency": 1}
        return _json(
            {"url": self.gateway_url, "shards": self.shard_count, "session_start_limit": limit}
        )

    def _command_scope(self, request: web.Request) -> tuple[int | None, web.Response | None]:
        if request.match_info["app_id"] != str(self.application_id):
            return None, _error(403, 50001, "Missing Access")
        guild = request.match_info.get("guild_id")
        if guild is not None and int(guild) not in self._guilds:
            return None, _error(403, 50001, "Missing Access")
        return (int(guild) if guild else None), None

    async def _get_commands(self, request: web.Request) -> web.Response:
        scope, problem = self._command_scope(request)
        return problem or _json(self.commands.get(scope, []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope, problem = self._command_scope(request)
        if problem is not None:
            return problem
        body = request[_BODY]
        errors = [_command_problem(c) for c in body] if isinstance(body, list) else ["not a list"]
        if any(errors):
            bad = {str(i): {"_errors": [{"message": e}]} for i, e in enumerate(errors) if e}
            return _json({"code": 50035, "message": "Invalid Form Body", "errors": bad}, 400)
        previous: dict[tuple[str, int], str] = {
            (c["name"], c["type"]): c["id"] for c in self.commands.get(scope, [])
        }
        synced = [self._synced_command(c, scope, previous) for c in body]
        self.commands[scope] = synced
        return _json(synced)

    def _synced_command(
        self, command: JSON, scope: int | None, previous: dict[tuple[str, int], str]
    ) -> JSON:
        kind = command.get("type") or 1
        given = {k: v for k, v in command.items() if v is not None}
        synced = {
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "contexts": None,
            "integration_types": [0],
            "description": "",
            **given,
            "type": kind,
            "id": previous.get((command["name"], kind)) or str(self.snowflake()),
            "application_id": str(self.application_id),
            "version": str(self.snowflake()),
        }
        if scope is not None:
            synced["guild_id"] = str(scope)
        return synced

    # -- REST: interactions and their webhooks -----------------------------

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self._interactions.get(request.match_info["token"])
        if interaction is None or str(interaction.id) != request.match_info["interaction_id"]:
            return _error(404, 10062, "Unknown interaction")
        if interaction.response_type is not None:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        body = request[_BODY] or {}
        kind, data = body.get("type"), body.get("data") or {}
        if kind not in {1, 4, 5, 6, 7, 8, 9, 10, 12}:
            return _error(400, 50035, "Invalid Form Body")
        interaction.response_type = kind
        message = self._respond(interaction, kind, data, request[_FILES])
        if not _is_true(request.query.get("with_response")):
            return web.Response(status=204)
        return _json(_callback_response(interaction, kind, message))

    def _respond(
        self, interaction: _Interaction, kind: int, data: JSON, files: tuple[RecordedFile, ...]
    ) -> JSON | None:
        """Create or update the interaction's original message as Discord does for ``kind``."""
        if kind in {4, 5}:
            flags = (data.get("flags") or 0) | (LOADING if kind == 5 else 0)
            message = self._store(
                interaction.channel_id, {**data, "flags": flags}, files, interaction
            )
            interaction.original_id = int(message["id"])
            interaction.message_ids.add(interaction.original_id)
            return message
        if kind in {6, 7} and interaction.message_id is not None:
            interaction.original_id = interaction.message_id
            interaction.message_ids.add(interaction.message_id)
            clicked = self.messages.get(interaction.message_id)
            if kind == 7 and clicked is not None:
                self._edit(clicked, data, files)
            return clicked
        return None

    def _webhook_interaction(self, request: web.Request) -> _Interaction | None:
        interaction = self._interactions.get(request.match_info["token"])
        if request.match_info["app_id"] != str(self.application_id) or interaction is None:
            return None
        return interaction if interaction.response_type is not None else None

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        if interaction is None:
            return _error(404, 10015, "Unknown Webhook")
        body = request[_BODY] or {}
        message = self._store(interaction.channel_id, body, request[_FILES], interaction)
        interaction.message_ids.add(int(message["id"]))
        if not _is_true(request.query.get("wait")):
            return web.Response(status=204)
        return _json(message)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        if interaction is None:
            return _error(404, 10015, "Unknown Webhook")
        wanted = request.match_info["message_id"]
        message_id = interaction.original_id if wanted == "@original" else int(wanted)
        message = self.messages.get(message_id or 0)
        if message is None or message_id not in interaction.message_ids:
            return _error(404, 10008, "Unknown Message")
        return self._message_verb(request, message)

    def _message_verb(self, request: web.Request, message: JSON) -> web.Response:
        if request.method == "DELETE":
            self._forget(message)
            return web.Response(status=204)
        if request.method == "PATCH":
            self._edit(message, request[_BODY] or {}, request[_FILES])
        return _json(message)

    # -- REST: channels, messages, guilds ----------------------------------

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self._channels.get(int(request.match_info["channel_id"]))
        if channel is None:
            return _error(404, 10003, "Unknown Channel")
        return self._refused(channel, VIEW_CHANNEL) or _json(channel)

    async def _history_page(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages: a page of the channel's history, newest first."""
        channel = self._channels.get(int(request.match_info["channel_id"]))
        if channel is None:
            return _error(404, 10003, "Unknown Channel")
        refused = self._refused(channel, VIEW_CHANNEL)
        if refused is not None:
            return refused
        try:
            query = history_query(request.query)
        except InvalidForm as exc:
            return _json(exc.body(), 400)
        if self._refused(channel, READ_MESSAGE_HISTORY) is not None:
            return _json([])  # Discord: "no messages will be returned", and no error
        page = self._history.page(int(channel["id"]), query)
        return _json([self._as_read(self.messages[i]) for i in page])

    def _as_read(self, message: JSON) -> JSON:
        """A message as REST answers it to this app (its approved intents), without the
        ``member`` fields only gateway events carry (the author's and each mention's)."""
        read = {k: v for k, v in message.items() if k != "member"}
        read["mentions"] = [
            {k: v for k, v in u.items() if k != "member"} for u in message.get("mentions", [])
        ]
        return self._with_content(read, self.privileged_intents)

    def _refused(self, channel: JSON, needed: int) -> web.Response | None:
        """403 Missing Access when the bot lacks a ``needed`` permission in a guild channel."""
        granted = self._bot_permissions(channel)
        if granted is None or granted & needed == needed:
            return None
        return _error(403, 50001, "Missing Access")

    def _bot_permissions(self, channel: JSON) -> int | None:
        """The bot's permissions in a guild channel (a thread's are its parent's); None in DMs."""
        if channel.get("guild_id") is None:
            return None
        guild = self._guilds.get(int(channel["guild_id"]))
        if guild is None:  # a channel made up for a guild the test never added
            return DEFAULT_APP_PERMISSIONS
        if channel["type"] in THREAD_TYPES:
            channel = self._channels.get(int(channel["parent_id"]), channel)
        member = self._guild_member(int(guild["id"]), self.bot_id)
        roles = member["roles"] if member is not None else []
        return channel_permissions(guild, channel, self.bot_id, roles)

    async def _send_message(self, request: web.Request) -> web.Response:
        channel = self._channels.get(int(request.match_info["channel_id"]))
        if channel is None:
            return _error(404, 10003, "Unknown Channel")
        recipients = {int(u["id"]) for u in channel.get("recipients", [])}
        if channel["type"] == 1 and recipients & self._closed_dms:
            return _error(403, 50007, "Cannot send messages to this user")
        body = request[_BODY] or {}
        keys = ("content", "embeds", "components", "sticker_ids", "poll")
        if not request[_FILES] and not any(body.get(k) for k in keys):
            return _error(400, 50006, "Cannot send an empty message")
        return _json(self._store(int(channel["id"]), body, request[_FILES], None))

    async def _channel_message(self, request: web.Request) -> web.Response:
        channel = self._channels.get(int(request.match_info["channel_id"]))
        needed = VIEW_CHANNEL | READ_MESSAGE_HISTORY
        refused = self._refused(channel, needed) if channel and request.method == "GET" else None
        if refused is not None:
            return refused
        message = self.messages.get(int(request.match_info["message_id"]))
        if message is None or message["channel_id"] != request.match_info["channel_id"]:
            return _error(404, 10008, "Unknown Message")
        if request.method == "GET":  # every fetch signs its attachments' links afresh
            for attachment in message["attachments"]:
                if int(attachment["id"]) in self._blobs:
                    self._sign(attachment)
            return _json(self._as_read(message))
        foreign = message["author"]["id"] != str(self.bot_id)
        if request.method == "PATCH" and foreign and set(request[_BODY] or {}) - {"flags"}:
            return _error(403, 50005, "Cannot edit a message authored by another user")
        return self._message_verb(request, message)

    async def _get_guild(self, request: web.Request) -> web.Response:
        guild = self._guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            return _error(404, 10004, "Unknown Guild")
        gateway_only = {"channels", "members", "threads", "voice_states", "presences", "large"}
        return _json({k: v for k, v in guild.items() if k not in gateway_only})

    async def _get_guild_part(self, request: web.Request) -> web.Response:
        guild = self._guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            return _error(404, 10004, "Unknown Guild")
        return _json(guild[request.path.rsplit("/", 1)[1]])

    async def _get_member(self, request: web.Request) -> web.Response:
        guild_id = int(request.match_info["guild_id"])
        if guild_id not in self._guilds:
            return _error(404, 10004, "Unknown Guild")
        member = self._guild_member(guild_id, int(request.match_info["user_id"]))
        return _json(member) if member else _error(404, 10007, "Unknown Member")

    def _store(
        self,
        channel_id: int,
        body: JSON,
        files: tuple[RecordedFile, ...],
        interaction: _Interaction | None,
    ) -> JSON:
        """Store a message the bot sent, with its uploaded files served on the CDN."""
        guild_id = self._channels.get(channel_id, {}).get("guild_id")
        message = self._message(
            channel_id,
            self.bot_user,
            guild_id=int(guild_id) if guild_id else None,
            content=body.get("content") or "",
        )
        message.update(
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            flags=body.get("flags") or 0,
            attachments=self._uploads(files, body),
        )
        if body.get("message_reference"):
            message |= self._reference(body["message_reference"], channel_id, guild_id)
        if interaction is not None:
            message |= self._interaction_fields(interaction)
        self._keep(message)
        return message

    def _reference(self, reference: JSON, channel_id: int, guild_id: str | None) -> JSON:
        ref = {"type": 0, "channel_id": str(channel_id), **reference}
        ref = {k: str(v) if k.endswith("_id") and v is not None else v for k, v in ref.items()}
        if guild_id is not None:
            ref.setdefault("guild_id", guild_id)
        ref.pop("fail_if_not_exists", None)
        return {
            "message_reference": ref,
            "referenced_message": self.messages.get(int(ref["message_id"])),
        }

    def _interaction_fields(self, interaction: _Interaction) -> JSON:
        owners = {"0": str(interaction.guild_id or 0)}
        metadata = {"id": str(interaction.id), "type": interaction.type, "user": interaction.user}
        metadata["authorizing_integration_owners"] = owners
        app = str(self.application_id)
        return {"webhook_id": app, "application_id": app, "interaction_metadata": metadata}

    def _uploads(self, files: tuple[RecordedFile, ...], body: JSON) -> list[JSON]:
        """The files a request uploads (``files[n]``), served on the CDN as attachments with the
        ``description`` its payload gives ``id`` n and the content type Discord infers."""
        described = {str(a.get("id")): a for a in body.get("attachments") or []}
        uploaded = []
        for f in files:
            index = f.field.removeprefix("files[").removesuffix("]")
            name = f.filename or "file"
            uploaded.append(
                self.add_attachment(
                    f.data,
                    filename=name,
                    content_type=_inferred_type(name) or f.content_type,
                    description=described.get(index, {}).get("description"),
                )
            )
        return uploaded

    def _edit(self, message: JSON, body: JSON, files: tuple[RecordedFile, ...]) -> None:
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = (
                    body[key] if body[key] is not None else ([] if key != "content" else "")
                )
        if body.get("flags") is not None:
            message["flags"] = (body["flags"] & ~EPHEMERAL) | (message["flags"] & EPHEMERAL)
        message["flags"] &= ~LOADING
        if body.get("attachments") is not None:
            keep = {str(a["id"]) for a in body["attachments"]}
            message["attachments"] = [a for a in message["attachments"] if a["id"] in keep]
        message["attachments"] = message["attachments"] + self._uploads(files, body)
        message["edited_timestamp"] = _now()

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        if not self._cdn_serves(request):
            return web.Response(status=404, text="This content is no longer available.")
        blob = self._blobs[int(request.match_info["attachment_id"])]
        content_type = blob.attachment["content_type"] or "application/octet-stream"
        headers = {"Content-Type": content_type, "Via": "1.1 google"}  # sent before it returns
        source = blob.path if blob.path is not None else blob.data or b""
        size = source.stat().st_size if isinstance(source, Path) else len(source)
        transfer = Transfer(blob.attachment["id"], blob.attachment["filename"], size)
        return await self._transfers.serve(request, transfer, source, headers, self.bandwidth)

    def _cdn_serves(self, request: web.Request) -> bool:
        """The file exists under that name and the link's signature and expiry hold."""
        attachment_id = int(request.match_info["attachment_id"])
        blob = self._blobs.get(attachment_id)
        if blob is None or blob.gone:
            return False
        name = blob.attachment["filename"]
        if quote(name) != quote(request.match_info["filename"]):
            return False
        return self._links.answers(attachment_id, name, request.query, self._cdn_now())

    # -- gateway -----------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        zlib_stream = self.compress and request.query.get("compress") == "zlib-stream"
        conn = _Connection(ws, zlib.compressobj() if zlib_stream else None)
        self._connections.add(conn)
        try:
            await conn.send(10, {"heartbeat_interval": self.heartbeat_interval_ms})
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(frame.data))
        finally:
            self._connections.discard(conn)
            if conn.shard is not None and self._shards.get(conn.shard[0]) is conn:
                del self._shards[conn.shard[0]]
        return ws

    async def _on_frame(self, conn: _Connection, frame: Any) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == 1:
            await conn.send(11, None)
        elif op == 2:
            await self._identify(conn, data)
        elif op == 6:  # RESUME is not supported: the session is invalid, start over
            await conn.send(9, False)
        elif op == 8:
            await self._member_chunk(conn, data)

    async def _identify(self, conn: _Connection, data: JSON) -> None:
        shard_id, count = data.get("shard") or (0, 1)
        intents = data.get("intents")
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
        elif not 0 <= shard_id < count:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
        elif intents is None:
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
        elif intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
        else:
            self.identifies.append(Identify(shard_id, count, intents))
            conn.shard, conn.intents = (shard_id, count), intents
            self._shards[shard_id] = conn
            await self._send_ready(conn, shard_id, count)

    async def _send_ready(self, conn: _Connection, shard_id: int, count: int) -> None:
        guilds = [g for gid, g in self._guilds.items() if (gid >> 22) % count == shard_id]
        ready = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": g["id"], "unavailable": True} for g in guilds],
            "session_id": f"fake-session-{self.snowflake():x}",
            "resume_gateway_url": self.gateway_url,
            "shard": [shard_id, count],
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
        }
        await conn.send(0, ready, "READY")
        for guild in guilds:
            await conn.send(0, copy.deepcopy(guild), "GUILD_CREATE")

    async def _member_chunk(self, conn: _Connection, data: JSON) -> None:
        guild_id = int(data["guild_id"])
        members = self._guilds.get(guild_id, {}).get("members", [])
        if data.get("user_ids"):
            wanted = {str(u) for u in data["user_ids"]}
            members = [m for m in members if m["user"]["id"] in wanted]
        query = (data.get("query") or "").lower()
        members = [m for m in members if m["user"]["username"].lower().startswith(query)]
        limit = data.get("limit") or len(members)
        chunk = {"guild_id": str(guild_id), "members": members[:limit], "chunk_index": 0}
        chunk |= {"chunk_count": 1, "not_found": [], "nonce": data.get("nonce")}
        await conn.send(0, chunk, "GUILD_MEMBERS_CHUNK")


async def _read_body(request: web.Request) -> tuple[Any, tuple[RecordedFile, ...]]:
    """The JSON body, or a multipart body's payload_json and files."""
    if not request.body_exists:
        return None, ()
    if request.content_type == "multipart/form-data":
        payload, files = None, []
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                continue  # discord.py never nests multipart bodies
            data = await part.read()
            if part.name == "payload_json":
                payload = json.loads(data)
            else:
                content_type = part.headers.get("Content-Type")
                files.append(RecordedFile(part.name or "", part.filename, content_type, data))
        return payload, tuple(files)
    raw = await request.read()
    if request.content_type == "application/json":
        return json.loads(raw), ()
    return raw.decode(errors="replace"), ()


def _inferred_type(filename: str) -> str | None:
    """The content type Discord gives an uploaded file, from its name (text in UTF-8)."""
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return f"{guessed}; charset=utf-8" if guessed and guessed.startswith("text/") else guessed


def _failure_response(failure: _Failure) -> web.Response:
    if failure.status != 429:
        reason = f"{failure.status}: {HTTPStatus(failure.status).phrase}"
        return _json(failure.body or {"message": reason, "code": 0}, failure.status)
    retry_after = failure.retry_after if failure.retry_after is not None else 0.5
    body = failure.body or {"message": "You are being rate limited.", "retry_after": retry_after}
    body = {"global": False, **body}
    headers = {
        "Retry-After": str(math.ceil(retry_after)),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Bucket": "fake-bucket",
        "X-RateLimit-Scope": "shared" if not body["global"] else "global",
    }
    if body["global"]:
        headers["X-RateLimit-Global"] = "true"
    return _json(body, 429, headers)


def _callback_response(interaction: _Interaction, kind: int, message: JSON | None) -> JSON:
    """The InteractionCallbackResponse body for ``?with_response=true``."""
    flags = message["flags"] if message is not None else 0
    answer: JSON = {
        "interaction": {
            "id": str(interaction.id),
            "type": interaction.type,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(flags & EPHEMERAL),
        }
    }
    if message is not None:
        answer["interaction"]["response_message_id"] = message["id"]
    if kind in {4, 7} and message is not None:
        answer["resource"] = {"type": kind, "message": message}
    return answer


def _command_problem(command: Any) -> str | None:
    """Why Discord would refuse this command in a bulk overwrite, or None."""
    if not isinstance(command, dict) or not isinstance(command.get("name"), str):
        return "command needs a name"
    kind = command.get("type") or 1
    name, description = command["name"], command.get("description") or ""
    if kind == 1 and not (COMMAND_NAME.match(name) and name == name.lower()):
        return f"invalid chat-input command name {name!r}"
    if kind == 1 and not 1 <= len(description) <= 100:
        return "description must be 1-100 characters"
    if len(command.get("options") or []) > 25:
        return "at most 25 options"
    return None

"""A fake Telegram Bot API server that the real python-telegram-bot talks to over HTTP.

It serves the methods the bot uses on 127.0.0.1 and answers as the cloud Bot API
does: PTB-style form parameters in, ``{"ok": ..., "result": ...}`` out, the same
HTTP status codes and descriptions for the errors a bot meets in practice.
Tests push updates, read what the bot sent, and inject failures::

    async with FakeTelegram(token="123:ABC") as fake:
        app = ApplicationBuilder().token("123:ABC").base_url(fake.api_url)
        ...
        user = fake.user(7)
        fake.push_update(fake.message_update(fake.private_chat(user), user, text="/start"))
        reply = await fake.wait_for(lambda m: m["chat_id"] == 7)

Behaviours a test may trip over, all copied from Telegram:
- ``getUpdates`` drops updates below ``offset`` for good, answers 409 while a
  webhook is set, and a newer long poll ends an older one with 409.
- Update types outside ``allowed_updates`` are never queued (default: all but
  ``chat_member``, ``message_reaction``, ``message_reaction_count``).
- ``getFile`` refuses files over 20 MB unless ``local_mode``; the file URL works
  only for a path ``getFile`` handed out.
- ``editMessageText`` with unchanged text and markup answers "message is not
  modified"; a reply to a deleted message answers "message to be replied not found";
  deleting someone else's message in a group needs the bot to be an admin.
- ``parse_mode`` text is checked the way Telegram rejects it most often
  (unescaped MarkdownV2 characters, unbalanced Markdown, unknown HTML tags).
- Privacy mode is on (getMe: ``can_read_all_group_messages`` false): in groups the
  bot gets commands and replies to its messages only, everything once it is admin
  (``fake.set_chat_member(chat_id, fake.bot_id, "administrator")``).
- Inline mode is off, as for a new bot (getMe: ``supports_inline_queries`` false):
  ``inline_query`` updates exist only once ``fake.inline_mode = True`` (BotFather's
  ``/setinline``). ``answerInlineQuery`` is checked as Telegram checks it
  (``telegram_inline.py``) and answers a query once; ``fake.inline_answers`` keeps the
  answers Telegram took, by query id.

``fake.calls`` records every call, failed or not; ``fake.sent`` only the messages
Telegram accepted; ``fake.transfers`` every file download, with when it started and
finished. ``bandwidth`` paces file downloads; ``cut_next_download`` cuts one in the middle,
and ``message(declared_size=...)`` declares a size that is not the file's. A real
``--local`` server answers absolute file paths: set ``local_file_paths`` (with
``local_mode``) to test that; ``file_paths[file_id]`` makes getFile name any path at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import mimetypes
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from tests.support.fakes.telegram_inline import InlineRefused, check_answer, inline_query
from tests.support.fakes.transfer import Transfer, Transfers
from tests.support.leaks import issued

JSON = dict[str, Any]
T = TypeVar("T")

TEST_TOKEN = "7301234599:AAH-test-token-0123456789abcdef0123"
BOT_USERNAME = "chevereto_test_bot"
BOT_FIRST_NAME = "Chevereto Test Bot"
CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024
MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
BUTTON_URL_SCHEMES = ("http", "https", "tg")
"""The schemes Telegram takes in a URL button; another is BUTTON_URL_INVALID."""
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
ADMIN_STATUSES = frozenset({"creator", "administrator"})
ADMIN_RIGHTS = [
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
]
RESTRICTED_RIGHTS = [
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_send_messages",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_manage_topics",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_edit_tag",
]
CONTENT_KEYS = frozenset(
    ["text", "caption", "photo", "video", "animation", "video_note", "document"]
)
GIFT_TYPES = (
    "unlimited_gifts",
    "limited_gifts",
    "unique_gifts",
    "premium_subscription",
    "gifts_from_channels",
)
# Parameters that are free text: "123" or "true" in them must stay a string.
TEXT_PARAMS = frozenset(
    [
        "text",
        "caption",
        "url",
        "secret_token",
        "callback_query_id",
        "file_id",
        "inline_message_id",
        "inline_query_id",
        "next_offset",
        "language_code",
        "description",
        "short_description",
        "name",
        "title",
        "parse_mode",
        "action",
        "ip_address",
        "emoji",
        "query",
    ]
)
SEND_PREFIXES = ("send", "edit", "copyMessage", "forwardMessage")

CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CANNOT_INITIATE = "Forbidden: bot can't initiate conversation with a user"


class ApiError(Exception):
    """An error answer of the Bot API, raised inside a method handler."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSON:
        """The JSON body Telegram sends with this error."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file the fake serves: what messages declare, getFile answers and downloads return."""

    file_id: str
    file_unique_id: str
    size: int
    file_path: str  # relative, as the cloud Bot API answers it
    mime_type: str | None
    file_name: str | None
    data: bytes | None = field(default=None, repr=False)
    disk_path: Path | None = None
    width: int | None = None
    """A photo's width in pixels as its largest size declares it (None: 1280)."""


STICKER_EXTENSIONS = {"static": "webp", "video": "webm", "animated": "tgs"}
"""A sticker's file, by its format, as getFile names it (``stickers/file_N.webp``)."""


@dataclass(frozen=True, slots=True)
class Sticker:
    """A sticker a message carries: its file, its format, its emoji and set."""

    file: FileRef
    sticker_format: str
    emoji: str | None
    set_name: str | None

    def as_json(self, declared_size: int | None = None) -> JSON:
        """The Bot API's Sticker object: no name, no MIME type; the format is two flags."""
        sticker: JSON = {
            "file_id": self.file.file_id,
            "file_unique_id": self.file.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": self.sticker_format == "animated",
            "is_video": self.sticker_format == "video",
            "file_size": self.file.size if declared_size is None else declared_size,
        }
        if self.emoji is not None:
            sticker["emoji"] = self.emoji
        if self.set_name is not None:
            sticker["set_name"] = self.set_name
        return sticker


@dataclass(slots=True)
class _Failure:
    method: str
    status: int
    description: str
    retry_after: int | None
    times: int | None
    chat_id: int | None


class _Signal:
    """Wakes every waiter when the fake's state changes; no polling sleeps."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def until(self, check: Callable[[], T | None], seconds: float) -> T | None:
        """Return the first non-None ``check()``, or None once ``seconds`` passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            event = self._event  # taken before checking, so no notify is missed
            found = check()
            remaining = deadline - loop.time()
            if found is not None or remaining <= 0:
                return found
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await event.wait()


class FakeTelegram:
    """The Bot API on 127.0.0.1: ``async with FakeTelegram(token="123:ABC") as fake:``."""

    def __init__(
        self, token: str = TEST_TOKEN, *, port: int = 0, bandwidth: float | None = None
    ) -> None:
        """``port`` 0 picks a free one; a test of a bot started before its Bot API names one.
        ``bandwidth``: bytes per second a file download is served at (None: no limit)."""
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("a bot token looks like '<digits>:<secret>'")
        self._token = issued("token", token)
        self.bot_id = int(bot_id)
        self.local_mode = False  # lifts the 20 MB getFile limit, as a local server does
        self.local_file_paths = False  # getFile answers absolute paths, as `--local` does
        self.file_paths: dict[str, str] = {}
        """getFile's answer for a file id, when set: any path, as a broken or hostile server."""
        self.paths_asked: list[str] = []
        """Every path asked of the file URL, served or not."""
        self.privacy_mode = True  # getMe says can_read_all_group_messages = not privacy_mode
        self.inline_mode = False  # getMe's supports_inline_queries; off: no inline queries
        self.deliver_webhooks = True  # push_update POSTs to the webhook once one is set
        self.webhook_retry_delay = 0.2
        self.bandwidth = bandwidth
        """Bytes per second a file download is served at; None: as fast as it goes."""
        self.calls: list[JSON] = []
        self.sent: list[JSON] = []
        self.inline_answers: dict[str, JSON] = {}
        self.deleted: list[tuple[int, int]] = []
        self.downloads: list[str] = []
        self._transfers = Transfers()
        self.get_updates_offsets: list[int | None] = []
        self.dropped_updates: list[JSON] = []
        self.webhook: JSON | None = None
        self.webhook_deliveries: list[tuple[int, int | str]] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.menu_buttons: dict[int | None, JSON] = {}
        self.unauthorized_requests = 0
        self._pending: list[JSON] = []
        self._allowed: frozenset[str] | None = None
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._files: dict[str, FileRef] = {}
        self._issued: dict[str, FileRef] = {}
        self._chats: dict[int, JSON] = {}
        self._users: dict[int, JSON] = {}
        self._members: dict[tuple[int, int], str] = {}
        self._queries: set[str] = set()
        self._inline_queries: set[str] = set()
        self._forbidden: dict[int, str] = {}
        self._failures: list[_Failure] = []
        self._poll_generation = 0
        self._closing = False
        self._updates_changed = _Signal()
        self._calls_changed = _Signal()
        self._webhook_task: asyncio.Task[None] | None = None
        self._tmpdir: Path | None = None
        self._session: ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._wanted_port = port
        self._methods: dict[str, tuple[str, Callable[[JSON], Awaitable[Any]]]] = {
            name.lower(): (name, handler) for name, handler in self._handlers().items()
        }

    def __repr__(self) -> str:
        return f"FakeTelegram(port={self._port})"  # never the token

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        # access_log=None: request paths contain the token.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._wanted_port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._session = ClientSession()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing = True
        self._updates_changed.notify()  # long polls answer at once
        self._calls_changed.notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started: use `async with`")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """The Bot API base PTB appends ``<token>/<method>`` to."""
        return f"{self.base}/bot"

    @property
    def file_url(self) -> str:
        """The file base PTB appends ``<token>/<file_path>`` to."""
        return f"{self.base}/file/bot"

    # ------------------------------------------------------------ test controls

    def fail(
        self,
        method: str,
        *,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int | None = 1,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (None: every call) with this error.

        ``method`` is a Bot API method name, or ``"download"`` for file downloads.
        """
        self._failures.append(
            _Failure(method.lower(), status, description, retry_after, times, chat_id)
        )

    def cut_next_download(self, at: int | None = None, times: int = 1) -> None:
        """The next ``times`` file downloads send ``at`` bytes of the file (half by default)
        under the whole file's Content-Length, then close the connection."""
        self._transfers.cut_next(at, times)

    @property
    def transfers(self) -> list[Transfer]:
        """Every file download that began, in order (``file`` is the file_id), with when it
        started and finished."""
        return self._transfers.done

    def download_count(self, file_id: str) -> int:
        """How many times the file was downloaded (cut downloads included)."""
        return self._transfers.count(file_id)

    def forbid_chat(self, chat_id: int, description: str = CANNOT_INITIATE) -> None:
        """Every send or edit to ``chat_id`` answers 403 from now on."""
        self._forbidden[chat_id] = description

    def allow_chat(self, chat_id: int) -> None:
        """Undo ``forbid_chat``: the user started the bot after all."""
        self._forbidden.pop(chat_id, None)

    def set_chat_member(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember answers for this user (also the bot itself) in this chat."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {sorted(MEMBER_STATUSES)}")
        self._members[(chat_id, user_id)] = status

    def add_file(
        self,
        data: bytes,
        *,
        file_id: str | None = None,
        file_unique_id: str | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> FileRef:
        """Register bytes that getFile and the file URL serve."""
        return self._register(data, file_id, file_unique_id, file_name, mime_type)

    def add_file_path(
        self,
        path: Path,
        *,
        file_id: str | None = None,
        file_unique_id: str | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> FileRef:
        """Register a file on disk, streamed from there: for files too big for memory."""
        return self._register(path, file_id, file_unique_id, file_name, mime_type)

    def _register(
        self,
        source: bytes | Path,
        file_id: str | None,
        file_unique_id: str | None,
        file_name: str | None,
        mime_type: str | None,
    ) -> FileRef:
        if isinstance(source, Path):
            with source.open("rb") as f:
                head = f.read(16)
            size, data, disk_path = source.stat().st_size, None, source
        else:
            head, size, data, disk_path = source[:16], len(source), source, None
        name_hint = file_name or (disk_path.name if disk_path else None)
        mime = mime_type or _sniff_mime(head, name_hint)
        folder = {"image": "photos", "video": "videos"}.get((mime or "").split("/")[0], "documents")
        suffix = Path(name_hint).suffix if name_hint else mimetypes.guess_extension(mime or "")
        n = next(self._ids)
        ref = FileRef(
            file_id=file_id or f"fid-{n}",
            file_unique_id=file_unique_id or f"uid-{n}",
            size=size,
            file_path=f"{folder}/file_{n}{suffix or ''}",
            mime_type=mime,
            file_name=file_name,
            data=data,
            disk_path=disk_path,
        )
        self._files[ref.file_id] = ref
        return ref

    # ---------------------------------------------------------------- updates

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates (or the webhook); returns its update_id."""
        update_id = next(self._update_ids)
        update["update_id"] = update_id
        kind = next(k for k in update if k != "update_id")
        inline_off = kind == "inline_query" and not self.inline_mode
        if not self._wants(kind) or self._hidden_by_privacy(update) or inline_off:
            self.dropped_updates.append(update)  # Telegram never creates these updates
        else:
            self._pending.append(update)
            self._updates_changed.notify()
        return update_id

    def push_raw_update(self, update: dict[str, Any]) -> int:
        """Queue an update as it is, unchecked and unfiltered, numbered as the next one: what a
        Bot API newer than the bot's library may send. Returns its update_id."""
        update_id = next(self._update_ids)
        self._pending.append({**update, "update_id": update_id})
        self._updates_changed.notify()
        return update_id

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by a getUpdates offset or a webhook 2xx."""
        return list(self._pending)

    def _wants(self, kind: str) -> bool:
        if self._allowed is None:
            return kind not in NOT_BY_DEFAULT
        return kind in self._allowed

    def _hidden_by_privacy(self, update: JSON) -> bool:
        """In groups a bot in privacy mode sees commands and replies to it, unless it is admin."""
        msg = update.get("message") or update.get("edited_message")
        if not self.privacy_mode or msg is None or msg["chat"]["type"] == "private":
            return False
        if self._bot_is_admin(msg["chat"]["id"]) or not CONTENT_KEYS & msg.keys():
            return False  # service messages always arrive
        first_word = next(iter((msg.get("text") or msg.get("caption") or "").split()), "")
        command, _, addressee = first_word.partition("@")
        replied_to = msg.get("reply_to_message", {}).get("from", {}).get("id")
        for_us = command.startswith("/") and addressee in ("", BOT_USERNAME)
        return not (for_us or replied_to == self.bot_id)

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._pending = self._pending[offset:]
        else:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]

    def _set_allowed(self, allowed: list[str] | None) -> None:
        # An empty list means "the default set", as in the Bot API.
        self._allowed = frozenset(allowed) if allowed else None

    # ---------------------------------------------------------------- builders

    def user(
        self,
        user_id: int,
        *,
        first_name: str = "U",
        language_code: str | None = "en",
        username: str | None = None,
    ) -> JSON:
        """A Telegram User (not a bot)."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self._users[user_id] = user
        return user

    def private_chat(self, user: JSON) -> JSON:
        """The private chat between ``user`` and the bot."""
        chat: JSON = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        if "username" in user:
            chat["username"] = user["username"]
        self._chats[chat["id"]] = chat
        return chat

    def group_chat(self, chat_id: int, title: str = "G") -> JSON:
        """A supergroup (ids of supergroups are negative, like -100123)."""
        chat: JSON = {"id": chat_id, "type": "supergroup", "title": title}
        self._chats[chat_id] = chat
        return chat

    def channel_chat(self, chat_id: int, title: str = "C") -> JSON:
        """A channel the bot administers."""
        chat: JSON = {"id": chat_id, "type": "channel", "title": title}
        self._chats[chat_id] = chat
        return chat

    def message(
        self,
        chat: JSON,
        user: JSON | None,
        *,
        text: str | None = None,
        caption: str | None = None,
        photo: FileRef | None = None,
        video: FileRef | None = None,
        animation: FileRef | None = None,
        video_note: FileRef | None = None,
        document: FileRef | None = None,
        sticker: Sticker | None = None,
        media_group_id: str | None = None,
        reply_to: JSON | None = None,
        declared_size: int | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
        entities: list[JSON] | None = None,
    ) -> JSON:
        """A Message from ``user`` (None: a channel post) in ``chat``, stored by message_id.

        ``declared_size`` overrides the ``file_size`` the message declares;
        ``file_name``/``mime_type`` override the registered file's. A ``sticker`` is sent as
        Telegram sends one: no caption, no name, no MIME type, its format in two flags.
        """
        msg: JSON = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time())}
        msg["chat"] = chat
        if user is None:
            msg["sender_chat"] = chat
        else:
            msg["from"] = user
        if text is not None:
            msg["text"] = text
            msg["entities"] = entities if entities is not None else _entities(text)
        if caption is not None:
            msg["caption"] = caption
            msg["caption_entities"] = _entities(caption)
        media = {
            "photo": photo,
            "video": video,
            "animation": animation,
            "video_note": video_note,
            "document": document,
        }
        given = {k: v for k, v in media.items() if v is not None}
        if len(given) + (sticker is not None) > 1:
            raise ValueError("a Telegram message carries one media at most")
        for kind, ref in given.items():
            msg.update(self._media(kind, ref, declared_size, file_name, mime_type))
        if sticker is not None:
            msg["sticker"] = sticker.as_json(declared_size)
        if media_group_id is not None:
            msg["media_group_id"] = media_group_id
        if reply_to is not None:
            msg["reply_to_message"] = _without_reply(_as_message(reply_to))
        for key in ("caption_entities", "entities"):
            if not msg.get(key, True):
                del msg[key]
        self._messages[(chat["id"], msg["message_id"])] = msg
        return msg

    def message_update(self, chat: JSON, user: JSON | None, **kwargs: Any) -> JSON:
        """An update carrying ``message(chat, user, **kwargs)``, ready for push_update."""
        return {"message": self.message(chat, user, **kwargs)}

    def channel_post(self, chat: JSON, **kwargs: Any) -> JSON:
        """An update carrying a channel post (no ``from``; ``sender_chat`` is the channel)."""
        return {"channel_post": self.message(chat, None, **kwargs)}

    def callback_query(self, user: JSON, message: JSON, data: str) -> JSON:
        """An update for a press on an inline button under ``message``.

        ``message`` is a Message dict or a record from ``fake.sent``.
        """
        message = _as_message(message)
        query_id = str(next(self._ids))
        self._queries.add(query_id)
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "data": data,
            "chat_instance": f"ci{message['chat']['id']}",
        }
        return {"callback_query": query}

    def inline_query_update(
        self, user: JSON, query: str = "", *, chat_type: str = "sender", offset: str = ""
    ) -> JSON:
        """An update for ``@bot <query>`` typed by ``user`` in a chat of ``chat_type``
        (``sender``: their private chat with the bot); its id is ``["inline_query"]["id"]``."""
        query_id = str(next(self._ids))
        self._inline_queries.add(query_id)
        return inline_query(query_id, user, query, chat_type, offset)

    def sticker(
        self,
        data: bytes,
        sticker_format: str = "static",
        *,
        emoji: str | None = "😺",
        set_name: str | None = "CatsOfTheWeek",
    ) -> Sticker:
        """A sticker whose file getFile serves: ``static`` (.webp), ``video`` (.webm) or
        ``animated`` (.tgs, Lottie); without ``set_name`` it belongs to no set."""
        extension = STICKER_EXTENSIONS[sticker_format]
        ref = self.add_file(data)
        named = replace(ref, file_path=f"stickers/file_{ref.file_id}.{extension}")
        self._files[ref.file_id] = named
        return Sticker(named, sticker_format, emoji, set_name)

    def _media(
        self,
        kind: str,
        ref: FileRef,
        declared_size: int | None,
        file_name: str | None,
        mime_type: str | None,
    ) -> JSON:
        size = ref.size if declared_size is None else declared_size
        ids = {"file_id": ref.file_id, "file_unique_id": ref.file_unique_id, "file_size": size}
        if kind == "photo":
            thumbs = [self.add_file(b"\xff\xd8thumb" * n, mime_type="image/jpeg") for n in (1, 4)]
            sizes = [
                {
                    "file_id": t.file_id,
                    "file_unique_id": t.file_unique_id,
                    "file_size": t.size,
                    "width": w,
                    "height": h,
                }
                for t, (w, h) in zip(thumbs, ((90, 68), (320, 240)), strict=True)
            ]
            return {"photo": [*sizes, {**ids, "width": ref.width or 1280, "height": 960}]}
        if kind == "video_note":
            return {"video_note": {**ids, "length": 240, "duration": 5}}
        named = {
            **ids,
            "file_name": file_name or ref.file_name or Path(ref.file_path).name,
            "mime_type": mime_type or ref.mime_type or "application/octet-stream",
        }
        if kind == "document":
            return {"document": named}
        media = {**named, "width": 1280, "height": 720, "duration": 5}
        if kind == "animation":  # Telegram also sets `document` on animations
            return {"animation": media, "document": named}
        return {kind: media}

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    # ---------------------------------------------------------------- waiting

    async def wait_for(
        self,
        predicate: Callable[[JSON], bool],
        *,
        timeout: float = 10,  # a test's deadline, not an I/O timeout
    ) -> JSON:
        """The first record in ``fake.sent`` matching ``predicate``, waiting for it to come."""
        found = await self._calls_changed.until(
            lambda: next((m for m in self.sent if predicate(m)), None), timeout
        )
        if found is None:
            texts = [(m["method"], m["chat_id"], m.get("text")) for m in self.sent[-10:]]
            raise TimeoutError(f"no matching sent message after {timeout}s; last sent: {texts}")
        return found

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[JSON], bool] | None = None,
        timeout: float = 10,  # a test's deadline, not an I/O timeout
    ) -> JSON:
        """The first recorded call of ``method`` whose params match ``predicate``."""

        def check() -> JSON | None:
            return next(
                (
                    c
                    for c in self.calls
                    if c["method"].lower() == method.lower()
                    and (predicate is None or predicate(c["params"]))
                ),
                None,
            )

        found = await self._calls_changed.until(check, timeout)
        if found is None:
            seen = [c["method"] for c in self.calls[-10:]]
            raise TimeoutError(f"no matching {method} call after {timeout}s; last calls: {seen}")
        return found

    async def inline_answer(self, update: JSON, timeout: float = 10) -> JSON:
        """The answer Telegram took for the inline query of ``update``, waiting for it."""
        query_id = update["inline_query"]["id"]
        found = await self._calls_changed.until(lambda: self.inline_answers.get(query_id), timeout)
        if found is None:
            seen = [c["method"] for c in self.calls[-10:]]
            raise TimeoutError(f"inline query {query_id} not answered; last calls: {seen}")
        return found

    def calls_to(self, method: str) -> list[JSON]:
        """The params of every recorded call of ``method``."""
        return [c["params"] for c in self.calls if c["method"].lower() == method.lower()]

    def commands_for(self, language_code: str = "", scope: JSON | None = None) -> list[JSON] | None:
        """The commands set for this scope (default scope if None) and language."""
        return self.commands.get((_scope_key(scope), language_code))

    # ---------------------------------------------------------------- webhook

    async def post_webhook(self, url: str, update: dict[str, Any], secret: str | None) -> int:
        """POST ``update`` to the bot's webhook as Telegram does; returns the HTTP status."""
        if "update_id" not in update:
            update["update_id"] = next(self._update_ids)
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        assert self._session is not None
        async with self._session.post(
            url, json=update, headers=headers, timeout=ClientTimeout(total=10)
        ) as resp:
            return resp.status

    async def _deliver_webhooks(self) -> None:
        """Push queued updates to the webhook one by one; retry until it answers 2xx."""
        while True:
            ready = await self._updates_changed.until(self._webhook_ready, 3600)
            if ready is None or self._closing or self.webhook is None:
                return
            update, hook = self._pending[0], self.webhook
            try:
                status: int | str = await self.post_webhook(
                    hook["url"], update, hook.get("secret_token")
                )
            except (ClientError, TimeoutError) as e:
                status = f"{type(e).__name__}: {e}"
            self.webhook_deliveries.append((update["update_id"], status))
            if isinstance(status, int) and 200 <= status < 300:
                self._confirm(update["update_id"] + 1)
                continue
            hook["last_error_date"] = int(time.time())
            hook["last_error_message"] = f"Wrong response from the webhook: {status}"
            await self._updates_changed.until(
                lambda: True if self._closing else None, self.webhook_retry_delay
            )

    def _webhook_ready(self) -> bool | None:
        if self._closing or self.webhook is None:
            return True
        return True if self._pending and self.deliver_webhooks else None

    # ------------------------------------------------------------------ HTTP

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self._token:
            self.unauthorized_requests += 1
            return _error(ApiError(401, "Unauthorized"))
        params = await _read_params(request)
        name = request.match_info["method"]
        canonical, handler = self._methods.get(name.lower(), (name, None))
        self.calls.append({"method": canonical, "params": params})
        self._calls_changed.notify()
        try:
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            self._check_failures(canonical, params.get("chat_id"))
            result = await handler(params)
        except ApiError as e:
            return _error(e)
        self._calls_changed.notify()  # `sent` may have grown
        return web.json_response({"ok": True, "result": result})

    def _check_failures(self, method: str, chat_id: Any) -> None:
        for failure in self._failures:
            if failure.method != method.lower() or failure.times == 0:
                continue
            if failure.chat_id is not None and failure.chat_id != chat_id:
                continue
            if failure.times is not None:
                failure.times -= 1
            raise ApiError(failure.status, failure.description, failure.retry_after)
        if method.startswith(SEND_PREFIXES) and chat_id in self._forbidden:
            raise ApiError(403, self._forbidden[chat_id])

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self._token:
            self.unauthorized_requests += 1
            return _error(ApiError(401, "Unauthorized"))
        path = request.match_info["path"]
        self.paths_asked.append(path)
        ref = self._issued.get(path)
        try:
            self._check_failures("download", None)
            if ref is None:
                raise ApiError(404, "Not Found")
        except ApiError as e:
            return _error(e)
        self.downloads.append(path)
        headers = {"Content-Type": ref.mime_type or "application/octet-stream"}
        source = ref.disk_path if ref.disk_path is not None else ref.data or b""
        transfer = Transfer(ref.file_id, path, ref.size)
        return await self._transfers.serve(request, transfer, source, headers, self.bandwidth)

    # ------------------------------------------------------------- methods

    def _handlers(self) -> dict[str, Callable[[JSON], Awaitable[Any]]]:
        return {
            "getMe": self._get_me,
            "close": _true,
            "logOut": _true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getFile": self._get_file,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "sendChatAction": _true,
        }

    @property
    def bot_user(self) -> JSON:
        """The bot as it appears in ``from`` of its own messages."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
        }

    async def _get_me(self, _: JSON) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": self.inline_mode,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, p: JSON) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(409, CONFLICT_WEBHOOK)
        self.get_updates_offsets.append(p.get("offset"))
        if "allowed_updates" in p:
            self._set_allowed(p["allowed_updates"])
        self._confirm(p.get("offset"))
        limit = min(max(int(p.get("limit", 100)), 1), 100)
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_changed.notify()  # an older long poll ends with 409

        def outcome() -> str | None:
            if generation != self._poll_generation:
                return "conflict"
            return "ready" if self._closing or self._pending else None

        if await self._updates_changed.until(outcome, float(p.get("timeout", 0))) == "conflict":
            raise ApiError(409, CONFLICT_POLL)
        return self._pending[:limit]

    async def _set_webhook(self, p: JSON) -> bool:
        if not p.get("url"):
            return await self._delete_webhook(p)
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if p.get("drop_pending_updates"):
            self._pending.clear()
        if "allowed_updates" in p:
            self._set_allowed(p["allowed_updates"])
        keys = ("url", "secret_token", "allowed_updates", "drop_pending_updates", "max_connections")
        self.webhook = {k: p[k] for k in keys if k in p}
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._deliver_webhooks())
        self._updates_changed.notify()
        return True

    async def _delete_webhook(self, p: JSON) -> bool:
        if p.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = None
        self._updates_changed.notify()
        return True

    async def _get_webhook_info(self, _: JSON) -> JSON:
        hook = self.webhook or {}
        info: JSON = {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        for key in ("max_connections", "allowed_updates", "last_error_date", "last_error_message"):
            if key in hook:
                info[key] = hook[key]
        return info

    async def _get_file(self, p: JSON) -> JSON:
        ref = self._files.get(str(p.get("file_id")))
        if ref is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if ref.size > CLOUD_DOWNLOAD_LIMIT and not self.local_mode:
            raise ApiError(400, "Bad Request: file is too big")
        self._issued[ref.file_path] = ref
        path = self._absolute_path(ref) if self.local_file_paths else ref.file_path
        path = self.file_paths.get(ref.file_id, path)
        return {
            "file_id": ref.file_id,
            "file_unique_id": ref.file_unique_id,
            "file_size": ref.size,
            "file_path": path,
        }

    def _absolute_path(self, ref: FileRef) -> str:
        if ref.disk_path is not None:
            return str(ref.disk_path.resolve())
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="fake-telegram-"))
        target = self._tmpdir / ref.file_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(ref.data or b"")
        return str(target)

    def _chat(self, chat_id: Any) -> JSON:
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id not in self._chats:  # a chat no builder made: guess its type from the id
            self._chats[chat_id] = (
                {"id": chat_id, "type": "private", "first_name": "U"}
                if chat_id > 0
                else {"id": chat_id, "type": "supergroup", "title": "G"}
            )
        return self._chats[chat_id]

    async def _send_message(self, p: JSON) -> JSON:
        chat = self._chat(p.get("chat_id"))
        text = _checked_text(p.get("text"), p.get("parse_mode"))
        _checked_entities(text, p.get("entities"))
        markup = _checked_markup(p.get("reply_markup"))
        reply_to = _reply_to(p)
        replied = self._messages.get((chat["id"], reply_to or 0))
        lenient = (p.get("reply_parameters") or {}).get("allow_sending_without_reply")
        if reply_to is not None and replied is None and not lenient:
            raise ApiError(400, "Bad Request: message to be replied not found")
        msg: JSON = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time())}
        msg |= {"chat": chat, "from": self.bot_user, "text": text}
        if replied is not None:
            msg["reply_to_message"] = _without_reply(replied)
        if markup and "inline_keyboard" in markup:  # only inline keyboards come back
            msg["reply_markup"] = markup
        self._messages[(chat["id"], msg["message_id"])] = msg
        self._record("sendMessage", p, msg, markup, reply_to)
        return msg

    def _record(
        self, method: str, p: JSON, msg: JSON, markup: JSON | None, reply_to: int | None
    ) -> None:
        preview = p.get("link_preview_options")
        self.sent.append(
            {
                "method": method,
                "chat_id": msg["chat"]["id"],
                "message_id": msg["message_id"],
                "text": p.get("text", msg.get("text")),
                "parse_mode": p.get("parse_mode"),
                "entities": list(p.get("entities") or []),
                "reply_markup": markup,
                "link_preview_options": preview,
                "disable_web_page_preview": p.get("disable_web_page_preview"),
                "preview_disabled": bool(
                    (preview or {}).get("is_disabled") or p.get("disable_web_page_preview")
                ),
                "reply_to": reply_to,
                "message": dict(msg),  # as it was then: later edits change the stored one
                "at": time.monotonic(),
            }
        )

    def _editable(self, p: JSON) -> JSON:
        if "inline_message_id" in p:
            raise ApiError(400, "Bad Request: inline messages are not served by this fake")
        msg = self._messages.get(_message_key(p))
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return msg

    async def _edit_message_text(self, p: JSON) -> JSON:
        msg = self._editable(p)
        text = _checked_text(p.get("text"), p.get("parse_mode"))
        _checked_entities(text, p.get("entities"))
        markup = _checked_markup(p.get("reply_markup"))
        return self._apply_edit("editMessageText", p, msg, text, markup)

    async def _edit_message_reply_markup(self, p: JSON) -> JSON:
        msg = self._editable(p)
        markup = _checked_markup(p.get("reply_markup"))
        return self._apply_edit("editMessageReplyMarkup", p, msg, msg.get("text", ""), markup)

    def _apply_edit(self, method: str, p: JSON, msg: JSON, text: str, markup: JSON | None) -> JSON:
        inline = markup if markup and "inline_keyboard" in markup else None
        if (msg.get("text"), msg.get("reply_markup")) == (text, inline):
            raise ApiError(400, NOT_MODIFIED)
        msg["text"], msg["edit_date"] = text, int(time.time())
        if inline is None:  # an edit without a keyboard removes the keyboard
            msg.pop("reply_markup", None)
        else:
            msg["reply_markup"] = inline
        self._record(method, p, msg, markup, None)
        return msg

    async def _delete_message(self, p: JSON) -> bool:
        key = _message_key(p)
        msg = self._messages.get(key)
        if msg is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        chat_id, message_id = key
        others = msg.get("from", {}).get("id") != self.bot_id
        if others and msg["chat"]["type"] != "private" and not self._bot_is_admin(chat_id):
            raise ApiError(400, "Bad Request: message can't be deleted")
        del self._messages[key]
        self.deleted.append((chat_id, message_id))
        return True

    def _bot_is_admin(self, chat_id: int) -> bool:
        return self._members.get((chat_id, self.bot_id), "member") in ADMIN_STATUSES

    async def _answer_callback_query(self, p: JSON) -> bool:
        query_id = p.get("callback_query_id")
        if query_id not in self._queries:
            raise ApiError(400, QUERY_TOO_OLD)
        self._queries.discard(query_id)
        return True

    async def _answer_inline_query(self, p: JSON) -> bool:
        query_id = p.get("inline_query_id")
        if query_id not in self._inline_queries:
            raise ApiError(400, QUERY_TOO_OLD)
        try:
            check_answer(p)
        except InlineRefused as refused:
            raise ApiError(400, refused.description) from None
        self._inline_queries.discard(query_id)
        self.inline_answers[query_id] = p
        return True

    async def _get_chat(self, p: JSON) -> JSON:
        chat_id = p.get("chat_id")
        if not isinstance(chat_id, int) or chat_id not in self._chats:
            raise ApiError(400, "Bad Request: chat not found")
        chat = self._chats[chat_id]
        gifts = dict.fromkeys(GIFT_TYPES, False)
        extra = {"accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}
        return {**chat, **extra}

    async def _get_chat_member(self, p: JSON) -> JSON:
        chat_id, user_id = self._chat(p.get("chat_id"))["id"], p.get("user_id")
        if not isinstance(user_id, int):
            raise ApiError(400, "Bad Request: invalid user_id specified")
        user = self.bot_user if user_id == self.bot_id else self._users.get(user_id)
        user = user or {"id": user_id, "is_bot": False, "first_name": "U"}
        return _member(self._members.get((chat_id, user_id), "member"), user)

    async def _get_chat_administrators(self, p: JSON) -> list[JSON]:
        chat_id = p.get("chat_id")
        self._chat(chat_id)
        admins = [
            uid for (cid, uid), s in self._members.items() if cid == chat_id and s in ADMIN_STATUSES
        ]
        return [await self._get_chat_member({"chat_id": chat_id, "user_id": u}) for u in admins]

    async def _set_my_commands(self, p: JSON) -> bool:
        commands = p.get("commands") or []
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands specified")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description is invalid")
        key = (_scope_key(p.get("scope")), _language(p))
        if commands:
            self.commands[key] = commands
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, p: JSON) -> list[JSON]:
        return self.commands.get((_scope_key(p.get("scope")), _language(p)), [])

    async def _delete_my_commands(self, p: JSON) -> bool:
        self.commands.pop((_scope_key(p.get("scope")), _language(p)), None)
        return True

    async def _set_chat_menu_button(self, p: JSON) -> bool:
        self.menu_buttons[p.get("chat_id")] = p.get("menu_button") or {"type": "default"}
        return True

    async def _get_chat_menu_button(self, p: JSON) -> JSON:
        return self.menu_buttons.get(p.get("chat_id"), {"type": "default"})


# ------------------------------------------------------------------- helpers


async def _true(_: JSON) -> bool:
    return True


def _error(error: ApiError) -> web.Response:
    return web.json_response(error.payload(), status=error.status)


async def _read_params(request: web.Request) -> JSON:
    """Query, form, multipart or JSON parameters, with JSON-encoded values decoded."""
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw.update(await request.json())
    elif request.method == "POST" and request.can_read_body:
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                raw[key] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "size": len(value.file.read()),
                }
            else:
                raw[key] = value
    return {key: _decode(key, value) for key, value in raw.items()}


def _checked_entities(text: str | None, entities: list[JSON] | None) -> None:
    """The 400 Telegram answers for an entity outside the text (offsets count UTF-16 code
    units)."""
    length = len((text or "").encode("utf-16-le")) // 2
    for entity in entities or []:
        end = entity["offset"] + entity["length"]
        if entity["offset"] < 0 or entity["length"] <= 0 or end > length:
            raise ApiError(400, "Bad Request: can't parse entities: entity beyond the text")


def _decode(key: str, value: Any) -> Any:
    # PTB json.dumps every non-string value: ints, bools, lists and dicts arrive as JSON text.
    if not isinstance(value, str) or key in TEXT_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _as_message(message: JSON) -> JSON:
    """A Message dict, also when given a record from ``fake.sent``."""
    return message["message"] if "method" in message and "message" in message else message


def _without_reply(message: JSON) -> JSON:
    # Telegram nests one level only: a replied-to message carries no reply of its own.
    return {k: v for k, v in message.items() if k != "reply_to_message"}


def _message_key(p: JSON) -> tuple[int, int]:
    chat_id, message_id = p.get("chat_id"), p.get("message_id")
    if not isinstance(chat_id, int) or not isinstance(message_id, int):
        raise ApiError(400, "Bad Request: message identifier is not specified")
    return chat_id, message_id


def _reply_to(p: JSON) -> int | None:
    params = p.get("reply_parameters")
    if isinstance(params, dict) and "message_id" in params:
        return int(params["message_id"])
    reply_to = p.get("reply_to_message_id")
    return int(reply_to) if reply_to is not None else None


def _scope_key(scope: JSON | None) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


def _language(p: JSON) -> str:
    code = p.get("language_code") or ""
    if code and not re.fullmatch(r"[a-z]{2}", code):
        raise ApiError(400, "Bad Request: invalid language code specified")
    return str(code)


def _member(status: str, user: JSON) -> JSON:
    """A ChatMember of this status with every field PTB requires for it."""
    member: JSON = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member |= dict.fromkeys(ADMIN_RIGHTS, True) | {
            "can_be_edited": False,
            "is_anonymous": False,
        }
    elif status == "restricted":
        member |= dict.fromkeys(RESTRICTED_RIGHTS, False) | {"is_member": True, "until_date": 0}
    elif status == "kicked":
        member["until_date"] = 0
    return member


def _sniff_mime(head: bytes, file_name: str | None) -> str | None:
    signatures = {b"\xff\xd8": "image/jpeg", b"\x89PNG": "image/png", b"GIF8": "image/gif"}
    for magic, mime in signatures.items():
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return mimetypes.guess_type(file_name)[0] if file_name else None


# ------------------------------------------------------------ text and markup


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_ENTITY_PATTERNS = (
    ("bot_command", re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
    ("url", re.compile(r"https?://[^\s<>\"]*[^\s<>\".,;:!?)\]']")),
)


def _entities(text: str) -> list[JSON]:
    """The entities Telegram computes: commands, hashtags, URLs; offsets in UTF-16 units."""
    spans = sorted(
        (m.start(), m.end(), kind) for kind, rx in _ENTITY_PATTERNS for m in rx.finditer(text)
    )
    entities: list[JSON] = []
    end_of_last = 0
    for start, end, kind in spans:
        if start < end_of_last:
            continue  # nested in a previous entity, e.g. a "#x" inside a URL
        entities.append(
            {
                "type": kind,
                "offset": _utf16_len(text[:start]),
                "length": _utf16_len(text[start:end]),
            }
        )
        end_of_last = end
    return entities


def _checked_text(text: Any, parse_mode: str | None) -> str:
    """The text as Telegram shows it, or the 400 Telegram answers for it."""
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    mode = (parse_mode or "").lower()
    if mode == "html":
        plain = _plain_from_html(text)
    elif mode == "markdownv2":
        plain = _plain_from_markdown_v2(text)
    elif mode == "markdown":
        plain = _plain_from_markdown(text)
    else:
        plain = text
    if not plain.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if len(plain) > MAX_TEXT_LENGTH:
        raise ApiError(400, "Bad Request: message is too long")
    return plain


def _parse_error(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {detail}")


_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)([^<>]*)>")


def _plain_from_html(text: str) -> str:
    """Telegram's HTML: known tags, properly nested; every other ``<`` must be ``&lt;``."""
    bare = _TAG.sub(lambda m: "\0" * len(m.group()), text).find("<")
    if bare != -1:
        raise _parse_error(f"Unsupported start tag at byte offset {_byte_offset(text, bare)}")
    open_tags: list[str] = []
    for m in _TAG.finditer(text):
        closing, name = m.group(1) == "/", m.group(2).lower()
        where = _byte_offset(text, m.start())
        if name not in _HTML_TAGS:
            raise _parse_error(f'Unsupported start tag "{name}" at byte offset {where}')
        if not closing:
            open_tags.append(name)
        elif not open_tags or open_tags.pop() != name:
            raise _parse_error(f"Unexpected end tag at byte offset {where}")
    if open_tags:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return html.unescape(_TAG.sub("", text))


_MDV2_ALWAYS_RESERVED = frozenset("#+-={}.!")
_LINK = re.compile(r"\[([^\]]*)\]\((?:\\.|[^)\\])*\)")
_MDV2_CODE_OR_LINK = re.compile(r"```.*?```|`[^`]*`|\]\((?:\\.|[^)\\])*\)", re.DOTALL)


def _plain_from_markdown_v2(text: str) -> str:
    """Finds the unescaped reserved characters Telegram refuses; formatting is not parsed."""
    outside = _MDV2_CODE_OR_LINK.sub(lambda m: "\0" * len(m.group()), text)
    escaped = False
    for i, char in enumerate(outside):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _MDV2_ALWAYS_RESERVED or (char == ">" and i and text[i - 1] != "\n"):
            raise _parse_error(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
    text = _LINK.sub(r"\1", text)
    return re.sub(r"\\(.)|[*_~|`]", lambda m: m.group(1) or "", text)


def _plain_from_markdown(text: str) -> str:
    """Legacy Markdown: every ``*``, ``_``, `````` and ``[`` opens an entity that must end."""
    pos = 0
    while pos < len(text):
        char = text[pos]
        closer = {"*": "*", "_": "_", "`": "`", "[": "]"}.get(char)
        if closer is None:
            pos += 1
            continue
        end = text.find(closer, pos + 1)
        if end == -1:
            where = _byte_offset(text, pos)
            raise _parse_error(f"Can't find end of the entity starting at byte offset {where}")
        if char == "[" and text.startswith("(", end + 1):  # skip the URL of [text](url)
            end = max(text.find(")", end), end)
        pos = end + 1
    return re.sub(r"[*_`]", "", _LINK.sub(r"\1", text))


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _checked_markup(markup: Any) -> JSON | None:
    """The reply_markup, or the 400 Telegram answers for a malformed inline keyboard."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                raise ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and urlsplit(str(url)).scheme.lower() not in BUTTON_URL_SCHEMES:
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
    return markup

"""A small chat service on 127.0.0.1: the test-only third platform, spoken to over HTTP.

Users post messages (text, files, an album id, a reply to an earlier message) in
their private chat with the bot or in groups, and press buttons. The bot:

- ``GET /updates?offset=N&timeout=S`` long-polls; updates below ``offset`` are dropped
  for good, the rest are handed out again, so an update the bot does not acknowledge
  (by asking past it) comes back, even to the next process;
- ``GET /files/{id}`` downloads a file (404 once the file is gone);
- ``POST /messages`` sends ``{chat, text, buttons, reply_to, previews}``, where a button
  is ``{label, url}`` or ``{label, action}`` (403 when the user's private chat is closed
  to the bot); ``POST /messages/{id}/edit`` edits one, ``POST /messages/{id}/delete``
  deletes one; ``GET /chats/{id}/admins`` lists a group's admins.

Everything the bot sent stays in ``fake.sent``::

    async with FakeChat() as chat:
        alice = chat.user("1001")
        chat.post(alice, chat.private(alice), files=[("a.png", "image/png", data)])
        answer = await chat.wait_for(lambda m: "/image/" in m.text)

Faults, one per matching request, in order: ``hold_next(path)`` (the request waits until
the test sets the event it returns) and ``drop_next(path)`` (the connection closes
without an answer); ``cut_next_download`` sends part of a file, then closes the
connection. Downloads go at ``bandwidth`` bytes per second (None: no limit) and are
recorded in ``chat.transfers`` with when they started and finished; ``post(declared_size=)``
declares a size that is not the file's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

from tests.support.fakes.transfer import Transfer, Transfers
from tests.support.waiting import eventually

JSON = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Fault = Callable[[web.Request], Awaitable[None]]
MAX_ACTION_BYTES = 64


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    language: str

    def to_json(self) -> JSON:
        return {"id": self.id, "name": self.name, "language": self.language}


@dataclass(frozen=True, slots=True)
class Chat:
    id: str
    kind: str
    """``private`` (its id is its user's) or ``group``."""

    def to_json(self) -> JSON:
        return {"id": self.id, "kind": self.kind}


@dataclass
class Sent:
    """A message the bot sent, as it reads now; ``edits`` holds the texts it had before."""

    id: int
    chat: str
    text: str
    buttons: list[JSON]
    reply_to: int | None
    previews: bool
    edits: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)
    """When it was sent (``time.monotonic``)."""
    edited_at: list[float] = field(default_factory=list)
    """When each edit came, in order."""

    @property
    def urls(self) -> list[str]:
        return [b["url"] for b in self.buttons if "url" in b]

    @property
    def actions(self) -> list[str]:
        return [b["action"] for b in self.buttons if "action" in b]


class FakeChat:
    """``async with FakeChat() as chat:``, then point the adapter at ``chat.url``."""

    def __init__(self, *, bandwidth: float | None = None) -> None:
        self.url = ""
        self.sent: list[Sent] = []
        self.deleted: list[int] = []
        self.downloads: list[str] = []
        self.bandwidth = bandwidth
        """Bytes per second a file download is served at; None: as fast as it goes."""
        self._transfers = Transfers()
        self.polls = 0
        self.acknowledged = 0
        """The highest offset the bot asked with: every update below it is acknowledged."""
        self._users: dict[str, User] = {}
        self._chats: dict[str, Chat] = {}
        self._admins: dict[str, set[str]] = {}
        self._closed: set[str] = set()
        self._files: dict[str, JSON] = {}
        self._posts: dict[int, JSON] = {}
        self._updates: list[JSON] = []
        self._arrived = asyncio.Event()
        self._faults: list[tuple[str, Fault]] = []
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    # --- the test's side ---------------------------------------------------------------

    def user(self, user_id: str, *, name: str = "", language: str = "en") -> User:
        """A user with a private chat open to the bot (see ``close_private``)."""
        user = User(user_id, name or f"user {user_id}", language)
        self._users[user_id] = user
        self._chats[user_id] = Chat(user_id, "private")
        return user

    def private(self, user: User) -> Chat:
        return self._chats[user.id]

    def group(self, chat_id: str, *, admins: Sequence[User] = ()) -> Chat:
        self._chats[chat_id] = Chat(chat_id, "group")
        self._admins[chat_id] = {admin.id for admin in admins}
        return self._chats[chat_id]

    def close_private(self, user: User) -> None:
        """The user blocked the bot: messages to their private chat answer 403."""
        self._closed.add(user.id)

    def post(
        self,
        user: User,
        chat: Chat,
        text: str | None = None,
        *,
        files: Sequence[tuple[str, str | None, bytes]] = (),
        album: str | None = None,
        reply_to: int | None = None,
        declared_size: int | None = None,
    ) -> int:
        """Posts a message (files as ``(name, type, bytes)``); returns its id. The message
        declares each file's size as ``declared_size`` when given, else its own."""
        message: JSON = {
            "id": next(self._ids),
            "chat": chat.to_json(),
            "from": user.to_json(),
            "text": text,
            "files": [self._add_file(*file, declared_size) for file in files],
            "album": album,
            "reply_to": None if reply_to is None else self._posts[reply_to],
        }
        self._posts[message["id"]] = message
        self._push({"message": message})
        return int(message["id"])

    def press(self, user: User, message: Sent, action: str) -> None:
        """Presses the button of ``message`` whose action is ``action``."""
        assert action in message.actions, f"no button {action} on that message"
        chat = self._chats[message.chat]
        self._push(
            {
                "press": {
                    "from": user.to_json(),
                    "chat": chat.to_json(),
                    "message": message.id,
                    "action": action,
                }
            }
        )

    def delete_post(self, message_id: int) -> None:
        """The user deleted that message: its files answer 404 from now on."""
        for file in self._posts[message_id]["files"]:
            self._files.pop(file["id"], None)

    def hold_next(self, path: str) -> asyncio.Event:
        """The next request whose path starts with ``path`` waits until the event is set."""
        release = asyncio.Event()

        async def hold(_: web.Request) -> None:
            await release.wait()

        self._faults.append((path, hold))
        return release

    def cut_next_download(self, at: int | None = None, times: int = 1) -> None:
        """The next ``times`` file downloads send ``at`` bytes of the file (half by default)
        under the whole file's Content-Length, then close the connection."""
        self._transfers.cut_next(at, times)

    @property
    def transfers(self) -> list[Transfer]:
        """Every file download that began, in order (``name`` is the file's name), with when
        it started and finished."""
        return self._transfers.done

    def download_count(self, file: str) -> int:
        """How many times the file (its id or its name) was downloaded, cut ones included."""
        return self._transfers.count(file)

    def drop_next(self, path: str) -> None:
        """The next request whose path starts with ``path`` loses its connection unanswered."""
        self._faults.append((path, _drop))

    @property
    def unacknowledged(self) -> int:
        """Updates posted that the bot has not acknowledged yet."""
        return sum(update["id"] >= self.acknowledged for update in self._updates)

    def to(self, chat: Chat | User) -> list[Sent]:
        return [m for m in self.sent if m.chat == chat.id]

    async def wait_for(self, check: Callable[[Sent], bool], *, within: float = 10.0) -> Sent:
        """The first message the bot sent that passes ``check``, once there is one."""
        await eventually(lambda: any(check(m) for m in self.sent), within=within)
        return next(m for m in self.sent if check(m))

    def leaks(self) -> list[Sent]:
        """Messages that showed a delete link in a group, or with link previews on."""
        return [
            m
            for m in self.sent
            if any("/delete/" in text for text in [m.text, *m.edits])
            and (self._chats[m.chat].kind != "private" or m.previews)
        ]

    def _add_file(self, name: str, kind: str | None, data: bytes, declared: int | None) -> JSON:
        file_id = f"file-{next(self._ids)}"
        size = len(data) if declared is None else declared
        file: JSON = {"id": file_id, "name": name, "type": kind, "size": size}
        self._files[file_id] = {**file, "data": data}
        return file

    def _push(self, update: JSON) -> None:
        self._updates.append({"id": next(self._update_ids), **update})
        self._arrived.set()

    # --- life --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._runner = web.AppRunner(
            self._app(), access_log=None, handler_cancellation=True, shutdown_timeout=0.1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """The service goes away: requests in progress are cut, new ones refused."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _app(self) -> web.Application:
        @web.middleware
        async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
            for index, (path, fault) in enumerate(self._faults):
                if request.path.startswith(path):
                    del self._faults[index]
                    await fault(request)
                    break
            return await handler(request)

        app = web.Application(middlewares=[faults])
        app.router.add_get("/updates", self._get_updates)
        app.router.add_get("/files/{id}", self._get_file)
        app.router.add_post("/messages", self._send)
        app.router.add_post("/messages/{id}/edit", self._edit)
        app.router.add_post("/messages/{id}/delete", self._delete)
        app.router.add_get("/chats/{id}/admins", self._get_admins)
        return app

    # --- the bot's side ----------------------------------------------------------------

    async def _get_updates(self, request: web.Request) -> web.StreamResponse:
        offset = int(request.query.get("offset", "0"))
        self.polls += 1
        self.acknowledged = max(self.acknowledged, offset)
        self._updates = [u for u in self._updates if u["id"] >= offset]
        if not self._updates:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(float(request.query.get("timeout", "0"))):
                    await self._arrived.wait()
        return web.json_response({"updates": [u for u in self._updates if u["id"] >= offset]})

    async def _get_file(self, request: web.Request) -> web.StreamResponse:
        file = self._files.get(request.match_info["id"])
        if file is None:
            return _error(404, "no such file")
        self.downloads.append(file["id"])
        data: bytes = file["data"]
        transfer = Transfer(file["id"], file["name"], len(data))
        headers = {"Content-Type": "application/octet-stream"}
        return await self._transfers.serve(request, transfer, data, headers, self.bandwidth)

    async def _send(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        chat = self._chats.get(str(body.get("chat")))
        if chat is None:
            return _error(404, "no such chat")
        if chat.id in self._closed:
            return _error(403, "the user has closed their private chat to the bot")
        problem = _bad_buttons(body.get("buttons") or [])
        if problem or not body.get("text"):
            return _error(400, problem or "a message needs a text")
        reply_to = body.get("reply_to")
        sent = Sent(
            next(self._ids),
            chat.id,
            body["text"],
            body.get("buttons") or [],
            None if reply_to is None else int(reply_to),
            bool(body.get("previews", True)),
        )
        self.sent.append(sent)
        return web.json_response({"id": sent.id})

    async def _edit(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        sent = next((m for m in self.sent if str(m.id) == request.match_info["id"]), None)
        if sent is None:
            return _error(404, "no such message")
        problem = _bad_buttons(body.get("buttons") or [])
        if problem or not body.get("text"):
            return _error(400, problem or "a message needs a text")
        sent.edits.append(sent.text)
        sent.edited_at.append(time.monotonic())
        sent.text, sent.buttons = body["text"], body.get("buttons") or []
        return web.json_response({"id": sent.id})

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        self.deleted.append(int(request.match_info["id"]))
        return web.json_response({})

    async def _get_admins(self, request: web.Request) -> web.StreamResponse:
        admins = self._admins.get(request.match_info["id"])
        if admins is None:
            return _error(404, "no such group")
        return web.json_response({"admins": sorted(admins)})


def _bad_buttons(buttons: list[JSON]) -> str | None:
    """Why the service would refuse these buttons, or None."""
    for button in buttons:
        if not button.get("label") or ("url" in button) == ("action" in button):
            return "a button has a label and either a url or an action"
        if len(str(button.get("action", "")).encode()) > MAX_ACTION_BYTES:
            return "a button's action is at most 64 bytes"
    return None


def _error(status: int, message: str) -> web.StreamResponse:
    return web.json_response({"error": message}, status=status)


async def _drop(request: web.Request) -> None:
    """Closes the connection without answering, then waits to be cancelled."""
    assert request.transport is not None
    request.transport.abort()
    await asyncio.sleep(3600)

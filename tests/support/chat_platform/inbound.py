"""The fake service's updates to core calls: commands, posted files, and button presses.

``handle`` raises what it could not do (a posted file that could not be stored as
a job); the core's rule (``bot.platform.updates``) says whether the update is acknowledged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from bot.commands import Context, send_in_order
from bot.domain import ChatKind, ChatRef, Reply, UserRef
from bot.errors import BotError
from bot.payloads import AnswerTarget, JobSpec
from bot.platform.surface import PlatformCore
from bot.texts import error_text, language_of
from tests.support.chat_platform.files import files_of
from tests.support.chat_platform.outbound import Outbound, Where
from tests.support.chat_platform.settings import ChatSettings

log = logging.getLogger(__name__)
PLATFORM = ChatSettings.name
Message = dict[str, Any]
Command = Callable[[Context, str, Message], Awaitable[Sequence[Reply]]]
"""A command: its context, its argument (the words after it), and the message it came in."""


def context_of(event: Message) -> Context:
    """Who sent a message or pressed a button, and where."""
    sender, chat = event["from"], event["chat"]
    kind = ChatKind.PRIVATE if chat["kind"] == "private" else ChatKind.GROUP
    return Context(
        UserRef(PLATFORM, sender["id"]),
        ChatRef(PLATFORM, chat["id"], kind),
        language_of(sender.get("language")),
        user_name=sender.get("name") or sender["id"],
    )


def job_of(ctx: Context, source: Message, answer_to: Message) -> JobSpec:
    """A job for the files of ``source``, answered in reply to ``answer_to``."""
    answer = AnswerTarget(reply_to=str(answer_to["id"]))
    caption = source.get("text")
    return JobSpec(ctx.user, ctx.chat, ctx.language, files_of(source), caption, answer=answer)


class Inbound:
    """Turns each update into core calls and sends back what the core answers."""

    def __init__(self, core: PlatformCore, http: httpx.AsyncClient, outbound: Outbound) -> None:
        self._core = core
        self._http = http
        self._outbound = outbound
        self._commands: dict[str, Command] = {
            "start": self._help,
            "help": self._help,
            "link": self._link,
            "unlink": self._simple(core.commands.unlink),
            "settings": self._simple(core.commands.settings),
            "expire": self._with_argument(core.commands.expire),
            "nsfw": self._with_argument(core.commands.nsfw),
            "album": self._with_argument(core.commands.album),
            "mirror": self._mirror,
            "history": self._history,
            "stats": self._simple(core.commands.stats),
            "upload": self._upload,
        }

    async def handle(self, update: dict[str, Any]) -> None:
        """Runs one update."""
        if "press" in update:
            await self._press(update["press"])
            return
        message: Message = update["message"]
        text = message.get("text") or ""
        if text.startswith("/"):
            await self._command(message, text)
        elif message.get("files"):
            await self._posted(message)

    async def _answer(self, event: Message, ctx: Context, replies: Sequence[Reply]) -> None:
        where = Where(ctx.chat.id, ctx.user.id, str(event["id"]), ctx.chat.is_private)

        async def send(reply: Reply) -> bool:
            return await self._outbound.send(reply, where, ctx.language)

        try:
            await send_in_order(replies, send)
        except httpx.HTTPError as error:  # a lost answer must not stop the polling
            log.warning("could not send a reply: %s", type(error).__name__)

    async def _command(self, message: Message, text: str) -> None:
        name, _, argument = text.removeprefix("/").partition(" ")
        run = self._commands.get(name)
        if run is None:
            return
        ctx = context_of(message)
        replies = await self._core.commands.answered(ctx, lambda: run(ctx, argument, message))
        await self._answer(message, ctx, replies)

    async def _posted(self, message: Message) -> None:
        """Posted files become a job (an album's, by its id) before the update is acknowledged."""
        ctx = context_of(message)
        album = message.get("album")
        group = f"{PLATFORM}:{ctx.chat.id}:{album}" if album else None
        try:
            reply = await self._core.intake.posted(job_of(ctx, message, message), group_key=group)
        except BotError as error:
            reply = Reply(error_text(error))
        if reply is not None:
            await self._answer(message, ctx, [reply])

    async def _press(self, press: Message) -> None:
        """A Delete button or its confirmation; the core checks that the presser is the uploader."""
        ctx = context_of(press)
        action = press["action"]
        replies = await self._core.commands.answered(
            ctx, lambda: self._core.commands.action(ctx, action)
        )
        await self._answer({"id": press["message"]}, ctx, replies)

    # commands

    @staticmethod
    def _simple(run: Callable[[Context], Awaitable[Reply]]) -> Command:
        async def command(ctx: Context, argument: str, message: Message) -> Sequence[Reply]:
            return [await run(ctx)]

        return command

    @staticmethod
    def _with_argument(run: Callable[[Context, str], Awaitable[Reply]]) -> Command:
        async def command(ctx: Context, argument: str, message: Message) -> Sequence[Reply]:
            return [await run(ctx, argument)]

        return command

    async def _help(self, ctx: Context, argument: str, message: Message) -> Sequence[Reply]:
        return [await self._core.commands.help(ctx)]

    async def _link(self, ctx: Context, argument: str, message: Message) -> Sequence[Reply]:
        """A key posted in a group is never stored; the message holding it is deleted."""
        if not ctx.chat.is_private:
            with contextlib.suppress(httpx.HTTPError):
                await self._http.post(f"/messages/{message['id']}/delete")
        return [await self._core.commands.link(ctx, argument)]

    async def _history(self, ctx: Context, argument: str, message: Message) -> Sequence[Reply]:
        return await self._core.commands.history(ctx)

    async def _mirror(self, ctx: Context, argument: str, message: Message) -> Sequence[Reply]:
        is_admin = False
        if not ctx.chat.is_private:
            response = await self._http.get(f"/chats/{ctx.chat.id}/admins")
            response.raise_for_status()
            is_admin = ctx.user.id in response.json()["admins"]
        return [await self._core.commands.mirror(ctx, argument, is_admin=is_admin)]

    async def _upload(self, ctx: Context, argument: str, message: Message) -> Sequence[Reply]:
        """/upload as a reply to a message with files uploads those files, with the sender's key."""
        target = message.get("reply_to")
        if not target or not target.get("files"):
            return [await self._core.commands.upload_usage(ctx)]
        reply = await self._core.intake.requested(job_of(ctx, target, message))
        return [] if reply is None else [reply]

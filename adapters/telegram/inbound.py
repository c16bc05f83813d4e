"""Telegram updates to core calls: commands, posted media, and button presses."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from telegram import Chat, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from adapters.telegram.files import file_of, sticker_title
from adapters.telegram.outbound import Outbound, Where
from adapters.telegram.settings import TelegramSettings
from adapters.telegram.texts import NO_BACKFILL
from bot.commands import Context, send_in_order
from bot.domain import ChatKind, ChatRef, Reply, UserRef, Visibility
from bot.errors import BotError
from bot.links.fetcher import single_link
from bot.payloads import AnswerTarget, FileRef, JobSpec
from bot.platform.surface import PlatformCore
from bot.texts import error_text, language_of, t

PLATFORM = TelegramSettings.name
ADMINS = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]
Command = Callable[[Context, str, Update], Awaitable[Sequence[Reply]]]
"""A command: its context, its argument (the words after it), and the update it came in."""


def _chat_kind(chat: Chat) -> ChatKind:
    if chat.type == ChatType.PRIVATE:
        return ChatKind.PRIVATE
    return ChatKind.CHANNEL if chat.type == ChatType.CHANNEL else ChatKind.GROUP


def _sender(update: Update, chat: Chat) -> tuple[int, str, str | None]:
    """Who sent it: a user, or for an unsigned channel post the channel itself."""
    user = update.effective_user
    if user is not None:
        return user.id, user.full_name, user.language_code
    return chat.id, chat.title or str(chat.id), None


def context_of(update: Update) -> Context:
    chat = update.effective_chat
    assert chat is not None
    user_id, name, language = _sender(update, chat)
    return Context(
        UserRef(PLATFORM, str(user_id)),
        ChatRef(PLATFORM, str(chat.id), _chat_kind(chat)),
        language_of(language),
        user_name=name,
    )


def where_of(update: Update, ctx: Context) -> Where:
    message = update.effective_message
    return Where(
        int(ctx.chat.id),
        int(ctx.user.id),
        message.message_id if message is not None else None,
        ctx.chat.is_private,
    )


def job_of(ctx: Context, source: Message, answer_to: Message) -> JobSpec:
    """A job for the file of ``source``, answered in reply to ``answer_to``."""
    item = file_of(source)
    assert item is not None
    answer = AnswerTarget(reply_to=str(answer_to.message_id))
    caption = source.caption or sticker_title(source)
    return JobSpec(ctx.user, ctx.chat, ctx.language, (item,), caption=caption, answer=answer)


def link_job(ctx: Context, link: str, answer_to: Message) -> JobSpec:
    """A job for the file at ``link`` (the bot fetches it), answered in reply to ``answer_to``."""
    answer = AnswerTarget(reply_to=str(answer_to.message_id))
    return JobSpec(ctx.user, ctx.chat, ctx.language, (FileRef.of_link(link),), answer=answer)


class Inbound:
    """The callbacks registered on the PTB Application."""

    def __init__(self, core: PlatformCore, outbound: Outbound) -> None:
        self._core = core
        self._outbound = outbound

    async def _answer(self, update: Update, ctx: Context, replies: Sequence[Reply]) -> None:
        where = where_of(update, ctx)

        async def send(reply: Reply) -> bool:
            return await self._outbound.send(reply, where, ctx.language)

        await send_in_order(replies, send)

    def command(self, run: Command) -> Callback:
        """Wraps a command: its context, its argument, the access lists, one sentence for any
        error (``Commands.answered``)."""

        async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            ctx = context_of(update)
            argument = " ".join(context.args or [])
            if run == self.link:  # a key in a group goes, whoever posted it
                await self._delete_in_group(update, ctx)
            replies = await self._core.commands.answered(ctx, lambda: run(ctx, argument, update))
            await self._answer(update, ctx, replies)

        return callback

    async def _delete_in_group(self, update: Update, ctx: Context) -> None:
        if not ctx.chat.is_private and update.effective_message is not None:
            with contextlib.suppress(TelegramError):
                await update.effective_message.delete()

    # commands

    async def help(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        return [await self._core.commands.help(ctx)]

    async def link(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        """A key posted in a group is never stored (the message was deleted if we could)."""
        return [await self._core.commands.link(ctx, argument)]

    async def unlink(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        return [await self._core.commands.unlink(ctx)]

    async def settings(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        return [await self._core.commands.settings(ctx)]

    async def expire(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        return [await self._core.commands.expire(ctx, argument)]

    async def nsfw(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        return [await self._core.commands.nsfw(ctx, argument)]

    async def filedate(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        return [await self._core.commands.filedate(ctx, argument)]

    async def album(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        return [await self._core.commands.album(ctx, argument)]

    async def category(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        return [await self._core.commands.category(ctx, argument)]

    async def width(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        return [await self._core.commands.width(ctx, argument)]

    async def format(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        return [await self._core.commands.format(ctx, argument)]

    async def history(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        return await self._core.commands.history(ctx)

    async def backfill(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        """Bots cannot read a Telegram chat's past: one sentence, and what to do instead."""
        return [Reply(t(NO_BACKFILL), visibility=Visibility.USER_ONLY)]

    async def stats(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        return [await self._core.commands.stats(ctx)]

    async def mirror(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        is_admin = await self._is_admin(update, ctx)
        return [await self._core.commands.mirror(ctx, argument, is_admin=is_admin)]

    async def _is_admin(self, update: Update, ctx: Context) -> bool:
        """Channel posts come from admins only; in groups Telegram says who is an admin."""
        if ctx.chat.kind is ChatKind.CHANNEL:
            return True
        member = await update.get_bot().get_chat_member(int(ctx.chat.id), int(ctx.user.id))
        return member.status in ADMINS

    async def upload(self, ctx: Context, argument: str, update: Update) -> Sequence[Reply]:
        """/upload <link> uploads the file at the link; /upload as a reply to a message with
        media uploads that media; both with the sender's key. A link that is not one is refused
        by the core, in one sentence."""
        message = update.effective_message
        if message is not None and argument.strip():
            reply = await self._core.intake.requested(link_job(ctx, argument.strip(), message))
            return [] if reply is None else [reply]
        target = message.reply_to_message if message is not None else None
        if message is None or target is None or file_of(target) is None:
            return [await self._core.commands.upload_usage(ctx)]
        reply = await self._core.intake.requested(job_of(ctx, target, message))
        return [] if reply is None else [reply]

    # media

    async def media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A posted photo, video or file: stored as a job before this update is acknowledged."""
        message = update.effective_message
        if message is None or file_of(message) is None:
            return
        ctx = context_of(update)
        group = f"tg:{ctx.chat.id}:{message.media_group_id}" if message.media_group_id else None
        spec = job_of(ctx, message, message)
        await self._admit(update, ctx, lambda: self._core.intake.posted(spec, group_key=group))

    async def posted_link(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A private message that is one link: a job for the file there, stored before this
        update is acknowledged, as a posted photo's is. (Only private chats: in a mirrored
        group only posted files are mirrored, links are not fetched.)"""
        message = update.effective_message
        link = single_link(message.text) if message is not None else None
        if message is None or link is None:
            return
        ctx = context_of(update)
        spec = link_job(ctx, link, message)
        await self._admit(update, ctx, lambda: self._core.intake.requested(spec))

    async def _admit(
        self, update: Update, ctx: Context, admit: Callable[[], Awaitable[Reply | None]]
    ) -> None:
        """Hands a job to the intake and answers a refusal. Any other failure (a job that could
        not be stored) is raised, for the core's rule (``bot.platform.updates``) to judge."""
        try:
            reply = await admit()
        except BotError as error:
            reply = Reply(error_text(error))
        if reply is not None:
            await self._answer(update, ctx, [reply])

    async def not_media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ctx = context_of(update)
        replies = await self._core.commands.answered(
            ctx, lambda: self._core.commands.not_media(ctx)
        )
        await self._answer(update, ctx, replies)

    # buttons

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A Delete button or its confirmation; the core checks that the presser is the uploader."""
        query = update.callback_query
        if query is None:
            return
        ctx = context_of(update)
        action = query.data or ""
        replies = await self._core.commands.answered(
            ctx, lambda: self._core.commands.action(ctx, action)
        )
        with contextlib.suppress(TelegramError):
            await query.answer()
        await self._answer(update, ctx, replies)

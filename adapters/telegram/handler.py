"""The Telegram side of a job: its files, its answers, and one status message for progress."""

from __future__ import annotations

import contextlib
import logging

from telegram import Bot, ReplyParameters
from telegram.error import TelegramError

from adapters.telegram.media import Downloader, medias_of
from adapters.telegram.replies import NO_PREVIEW, Where, keyboard, send_reply
from bot.domain import IncomingMedia, Reply, Text, Visibility
from bot.jobs import JobSpec
from bot.texts import render

log = logging.getLogger(__name__)


def where_of(spec: JobSpec) -> Where:
    answer = spec.answer
    return Where(
        int(answer["chat_id"]), int(spec.user.id), answer.get("reply_to"), spec.chat.is_private
    )


class TelegramJobs:
    """Implements the core's JobHandler for Telegram."""

    def __init__(self, bot: Bot, downloader: Downloader) -> None:
        self._bot = bot
        self._downloader = downloader
        self._status: dict[tuple[int, int | None], int] = {}

    def media(self, spec: JobSpec) -> list[IncomingMedia]:
        return medias_of(spec, self._downloader)

    async def send(self, spec: JobSpec, reply: Reply) -> bool:
        where = where_of(spec)
        status = self._status.pop((where.chat_id, where.reply_to), None)
        if status is not None and reply.visibility is Visibility.PUBLIC and not reply.secret:
            with contextlib.suppress(TelegramError):
                await self._bot.edit_message_text(
                    render(reply.text, spec.language),
                    where.chat_id,
                    status,
                    reply_markup=keyboard(reply, spec.language),
                )
                return True
        return await send_reply(self._bot, reply, where, spec.language)

    async def progress(self, spec: JobSpec, text: Text) -> None:
        """The first report sends a status message; later ones edit it."""
        where = where_of(spec)
        shown = render(text, spec.language)
        key = (where.chat_id, where.reply_to)
        if key in self._status:
            await self._bot.edit_message_text(shown, where.chat_id, self._status[key])
            return
        reply_to = (
            ReplyParameters(where.reply_to, allow_sending_without_reply=True)
            if (where.reply_to is not None)
            else None
        )
        message = await self._bot.send_message(
            where.chat_id, shown, reply_parameters=reply_to, link_preview_options=NO_PREVIEW
        )
        self._status[key] = message.message_id

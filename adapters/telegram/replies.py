"""Core replies as Telegram messages: buttons, previews, and who may see them.

A reply holding a delete link (``secret``) only ever goes to the user's private
chat, with link previews off: Telegram's preview crawler would open the link,
and opening it deletes the upload.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyParameters,
)
from telegram.error import BadRequest, Forbidden

from bot.domain import Reply, Visibility
from bot.texts import Language, render

log = logging.getLogger(__name__)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def keyboard(reply: Reply, language: Language) -> InlineKeyboardMarkup | None:
    """URL buttons open links; action buttons carry callback data that holds no secret."""
    rows = []
    for button in reply.buttons:
        label = render(button.label, language)
        if button.url is not None:
            rows.append([InlineKeyboardButton(label, url=button.url)])
        elif button.action is not None:
            rows.append([InlineKeyboardButton(label, callback_data=button.action)])
    return InlineKeyboardMarkup(rows) if rows else None


@dataclass(frozen=True, slots=True)
class Where:
    """Where a request came from: the chat, the message to answer, and the user."""

    chat_id: int
    user_id: int
    reply_to: int | None
    private: bool


async def send_reply(bot: Bot, reply: Reply, where: Where, language: Language) -> bool:
    """Sends one reply where its visibility allows; False when the user's private chat is closed."""
    to_user = reply.visibility is Visibility.PRIVATE_TO_USER or (reply.secret and not where.private)
    chat_id = where.user_id if to_user else where.chat_id
    reply_to = None if to_user and not where.private else where.reply_to
    try:
        await bot.send_message(
            chat_id,
            render(reply.text, language),
            reply_markup=keyboard(reply, language),
            link_preview_options=NO_PREVIEW if reply.secret else None,
            reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True)
            if reply_to is not None
            else None,
        )
    except Forbidden:
        if not to_user:
            raise
        return False
    except BadRequest as error:
        if not to_user or "chat not found" not in error.message.lower():
            raise
        return False
    return True

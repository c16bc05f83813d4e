"""Core replies as Telegram messages: buttons, previews, who may see them, and job status.

A reply holding a delete link (``secret``) only ever goes to the user's private
chat, with link previews off: Telegram's preview crawler would open the link,
and opening it deletes the upload. A reply longer than a message goes as several,
cut between lines, its buttons on the last.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MessageEntity,
    ReplyParameters,
)
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.domain import Reply, Text, Visibility
from bot.payloads import JobSpec
from bot.texts import Language, code_spans, render, render_marked, split

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
MESSAGE_MAX = 4096
"""Telegram's limit on a message's text, in characters."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One message of a reply: its text, its code spans (monospace, copied whole with a tap),
    and the buttons, which only the last piece carries."""

    text: str
    entities: tuple[MessageEntity, ...]
    markup: InlineKeyboardMarkup | None


def _utf16(text: str) -> int:
    """Telegram counts entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _piece(marked: str, markup: InlineKeyboardMarkup | None) -> Piece:
    text, spans = code_spans(marked)
    entities = tuple(
        MessageEntity(MessageEntity.CODE, _utf16(text[:start]), _utf16(text[start:end]))
        for start, end in spans
    )
    return Piece(text, entities, markup)


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


def pieces(reply: Reply, language: Language) -> list[Piece]:
    """The reply as messages within Telegram's limit; the buttons go with the last."""
    chunks = split(render_marked(reply.text, language), MESSAGE_MAX)
    markups = [None] * (len(chunks) - 1) + [keyboard(reply, language)]
    return [_piece(chunk, markup) for chunk, markup in zip(chunks, markups, strict=True)]


def _previews(reply: Reply) -> LinkPreviewOptions | None:
    return NO_PREVIEW if reply.secret else None


def _replying(message_id: int | None) -> ReplyParameters | None:
    """A reply to ``message_id`` that is still sent if that message is gone."""
    if message_id is None:
        return None
    return ReplyParameters(message_id, allow_sending_without_reply=True)


def _closed(error: TelegramError) -> bool:
    """Telegram's ways of saying the user never started the bot, or blocked it."""
    return isinstance(error, Forbidden) or "chat not found" in error.message.lower()


@dataclass(frozen=True, slots=True)
class Where:
    """Where a request came from: the chat, the user, the message to answer."""

    chat_id: int
    user_id: int
    reply_to: int | None
    private: bool

    @classmethod
    def of_job(cls, job: JobSpec) -> Where:
        """A job's chat and user; its answer replies to ``job.answer.reply_to``, a message id."""
        reply_to = job.answer.reply_to
        return cls(
            int(job.chat.id),
            int(job.user.id),
            None if reply_to is None else int(reply_to),
            job.chat.is_private,
        )

    def for_user(self, reply: Reply) -> bool:
        """Whether ``reply`` goes to the user's private chat rather than this chat: a reply
        meant for it, or a delete link asked for outside it."""
        return reply.visibility is Visibility.PRIVATE_TO_USER or (reply.secret and not self.private)

    def toward(self, to_user: bool) -> tuple[int, int | None]:
        """The chat to send to and the message to reply to there: none in the user's private
        chat when the request came from elsewhere."""
        if not to_user:
            return self.chat_id, self.reply_to
        return self.user_id, self.reply_to if self.private else None


def _unchanged(error: BadRequest) -> bool:
    """Telegram's refusal of an edit that changes nothing: the message already says it."""
    return "not modified" in error.message.lower()


class Outbound:
    """Sends replies; a job's one status message is edited rather than sent again.

    A job's status message is named by its message id, as a string (``status``): the core
    keeps it in the job, so any process edits it.
    """

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def send(self, reply: Reply, where: Where, language: Language) -> bool:
        """Sends one reply where its visibility allows; False when the user's private chat
        is closed to the bot."""
        to_user = where.for_user(reply)
        chat_id, reply_to = where.toward(to_user)
        if to_user:
            return await self.tell(chat_id, reply, language, reply_to)
        await self._post(chat_id, pieces(reply, language), _previews(reply), reply_to)
        return True

    async def tell(
        self, user_id: int, reply: Reply, language: Language, reply_to: int | None = None
    ) -> bool:
        """Sends a reply to the user's private chat (its id is theirs); False when they never
        started the bot or blocked it."""
        try:
            await self._post(user_id, pieces(reply, language), _previews(reply), reply_to)
        except (Forbidden, BadRequest) as error:
            if not _closed(error):
                raise
            return False
        return True

    async def deliver(self, job: JobSpec, reply: Reply, status: str | None) -> bool:
        """A job's reply; one for the job's own chat replaces its status message when there
        is one: in a private chat, that is the one answer, delete link included, previews
        off. A status message that is gone, or no longer editable, is replaced by a new one."""
        where = Where.of_job(job)
        if status is None or where.for_user(reply):
            return await self.send(reply, where, job.language)
        first, *rest = pieces(reply, job.language)
        previews = _previews(reply)
        if await self._edit(where.chat_id, int(status), first, previews):
            await self._post(where.chat_id, rest, previews, None)
        else:
            await self._post(where.chat_id, [first, *rest], previews, where.reply_to)
        return True

    async def _post(
        self,
        chat_id: int,
        parts: list[Piece],
        previews: LinkPreviewOptions | None,
        reply_to: int | None,
    ) -> None:
        """Sends the pieces in order, the first replying to ``reply_to``."""
        for piece in parts:
            await self._bot.send_message(
                chat_id,
                piece.text,
                entities=piece.entities or None,
                reply_markup=piece.markup,
                link_preview_options=previews,
                reply_parameters=_replying(reply_to),
            )
            reply_to = None

    async def _edit(
        self, chat_id: int, message_id: int, piece: Piece, previews: LinkPreviewOptions | None
    ) -> bool:
        """Edits a message into ``piece``; False when it cannot be (gone, too old)."""
        try:
            await self._bot.edit_message_text(
                piece.text,
                chat_id,
                message_id,
                entities=piece.entities or None,
                reply_markup=piece.markup,
                link_preview_options=previews,
            )
        except TelegramError:
            return False
        return True

    async def progress(self, job: JobSpec, text: Text, status: str | None) -> str | None:
        """Edits the job's status message, or sends one in reply to the job's message;
        returns its message id."""
        where = Where.of_job(job)
        shown = render(text, job.language)
        if status is not None:
            try:
                await self._bot.edit_message_text(shown, where.chat_id, int(status))
            except BadRequest as error:
                if not _unchanged(error):  # deleted, or too old to edit: show a new one
                    return await self._new_status(where, shown)
            return status
        return await self._new_status(where, shown)

    async def _new_status(self, where: Where, shown: str) -> str:
        message = await self._bot.send_message(
            where.chat_id,
            shown,
            reply_parameters=_replying(where.reply_to),
            link_preview_options=NO_PREVIEW,
        )
        return str(message.message_id)

"""Telegram's inline mode: ``@bot words`` in any chat offers the user's own past uploads, as
photo, GIF and video results that post the file with its viewer URL as the caption.

The results come from the upload history (``core.sharing``), never from the host. They hold
the file link, its thumbnail and the viewer URL only: never a delete link, which Telegram would
show to a whole chat. They are personal and cached briefly, so a new upload or a deletion shows
within seconds.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from telegram import (
    InlineQueryResult,
    InlineQueryResultGif,
    InlineQueryResultPhoto,
    InlineQueryResultsButton,
    InlineQueryResultVideo,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from adapters.telegram.settings import TelegramSettings
from adapters.telegram.texts import INLINE_NOTHING
from bot.domain import UploadRecord, UserRef
from bot.platform.surface import PlatformCore
from bot.texts import language_of, render, t

log = logging.getLogger(__name__)
PLATFORM = TelegramSettings.name
CACHE_S = 10
"""How long Telegram may keep an answer for the same user and words."""
START = "start"
"""What the empty answer's button sends: ``/start start`` in the private chat."""


def _extension(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).suffix.lower()


def result_of(record: UploadRecord) -> InlineQueryResult | None:
    """The upload as a result: a GIF (judged from its file link), another image as a photo, or
    a video. A result needs a thumbnail: an image without one shows itself; a video without one
    is left out (Telegram wants a JPEG there, and the host makes one of every video it takes)."""
    if record.url is None:
        return None
    name = record.title or record.filename
    if record.media_type == "video":
        if record.thumb_url is None:
            return None
        return InlineQueryResultVideo(
            str(record.id),
            record.url,
            "video/mp4",
            record.thumb_url,
            name,
            caption=record.url_viewer,
        )
    thumb = record.thumb_url or record.url
    if _extension(record.url) == ".gif":
        mime = "image/gif" if _extension(thumb) == ".gif" else None
        return InlineQueryResultGif(
            str(record.id),
            record.url,
            thumb,
            title=name,
            caption=record.url_viewer,
            thumbnail_mime_type=mime,
        )
    return InlineQueryResultPhoto(
        str(record.id), record.url, thumb, title=name, caption=record.url_viewer
    )


class Inline:
    """The InlineQueryHandler's callback."""

    def __init__(self, core: PlatformCore) -> None:
        self._core = core

    async def query(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answers with the asker's matching uploads; with none, a button to the private chat
        (not for someone the access lists leave out: they get an empty answer, nothing said)."""
        query = update.inline_query
        if query is None:
            return
        user = UserRef(PLATFORM, str(query.from_user.id))
        try:
            records = await self._core.sharing.find(user, query.query)
        except Exception:  # the database is away: the client shows nothing, nothing is lost
            log.warning("could not search the uploads for an inline query", exc_info=True)
            return
        results = [result for result in map(result_of, records) if result is not None]
        button = None
        if not results and self._core.sharing.allows(user):
            text = render(t(INLINE_NOTHING), language_of(query.from_user.language_code))
            button = InlineQueryResultsButton(text, start_parameter=START)
        try:
            await query.answer(results, cache_time=CACHE_S, is_personal=True, button=button)
        except TelegramError as error:  # too late (the user typed on), or refused
            log.info("an inline answer was not taken: %s", error)

"""The fake Bot API's inline mode: ``answerInlineQuery`` checked the way Telegram checks it.

Telegram refuses an answer with more than 50 results, two results with one id, an id that
is empty or over 64 bytes, a result without a field its type requires (a photo's
``photo_url`` and ``thumbnail_url``, a video's ``mime_type`` and ``title``, ...), a link
that is not http(s), a video that is neither ``video/mp4`` nor ``text/html``, a caption over
1024 characters, and a button that does not carry exactly one of ``start_parameter``
(1-64 of ``A-Za-z0-9_-``) and ``web_app``. This fake serves the result types the bot may
send: photo, gif, video and article.
"""

from __future__ import annotations

import re
from typing import Any

JSON = dict[str, Any]

MAX_RESULTS = 50
MAX_RESULT_ID_BYTES = 64
MAX_CAPTION_LENGTH = 1024
REQUIRED: dict[str, tuple[str, ...]] = {
    "photo": ("photo_url", "thumbnail_url"),
    "gif": ("gif_url", "thumbnail_url"),
    "video": ("video_url", "mime_type", "thumbnail_url", "title"),
    "article": ("title", "input_message_content"),
}
URL_FIELDS = ("photo_url", "gif_url", "video_url", "thumbnail_url", "url")
VIDEO_MIME_TYPES = frozenset({"video/mp4", "text/html"})
GIF_THUMBNAIL_MIME_TYPES = frozenset({"image/jpeg", "image/gif", "video/mp4"})
START_PARAMETER = re.compile(r"[A-Za-z0-9_-]{1,64}")


class InlineRefused(Exception):
    """What Telegram answers (400, this description) for a malformed answer."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = f"Bad Request: {description}"


def check_answer(p: JSON) -> None:
    """Raises ``InlineRefused`` for an answerInlineQuery Telegram would refuse."""
    results = p.get("results")
    if not isinstance(results, list):
        raise InlineRefused("can't parse inline query results JSON object")
    if len(results) > MAX_RESULTS:
        raise InlineRefused("RESULTS_TOO_MUCH")
    ids = [_checked_result(result) for result in results]
    if len(set(ids)) != len(ids):
        raise InlineRefused("RESULT_ID_DUPLICATE")
    cache_time = p.get("cache_time", 300)
    if not isinstance(cache_time, int) or cache_time < 0:
        raise InlineRefused("can't parse cache_time")
    if "button" in p:
        _check_button(p["button"])


def _checked_result(result: Any) -> str:
    """The result's id, once the result is one Telegram takes."""
    if not isinstance(result, dict):
        raise InlineRefused("can't parse inline query result JSON object")
    kind = result.get("type")
    if kind not in REQUIRED:
        raise InlineRefused(f'result type "{kind}" is not served by this fake')
    result_id = result.get("id")
    if not isinstance(result_id, str) or not 1 <= len(result_id.encode()) <= MAX_RESULT_ID_BYTES:
        raise InlineRefused("RESULT_ID_INVALID")
    for name in REQUIRED[kind]:
        if not result.get(name):
            raise InlineRefused(
                f'can\'t parse inline query result: Field "{name}" must be of type String'
            )
    for name in URL_FIELDS:
        if name in result and not re.match(r"https?://", str(result[name])):
            raise InlineRefused("WEBDOCUMENT_URL_INVALID")
    if kind == "video" and result["mime_type"] not in VIDEO_MIME_TYPES:
        raise InlineRefused("WEBDOCUMENT_MIME_INVALID")
    thumb_mime = result.get("thumbnail_mime_type")
    if kind == "gif" and thumb_mime is not None and thumb_mime not in GIF_THUMBNAIL_MIME_TYPES:
        raise InlineRefused("WEBDOCUMENT_MIME_INVALID")
    if len(str(result.get("caption") or "")) > MAX_CAPTION_LENGTH:
        raise InlineRefused("MEDIA_CAPTION_TOO_LONG")
    return result_id


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not button.get("text"):
        raise InlineRefused("BUTTON_TEXT_INVALID")
    start, web_app = button.get("start_parameter"), button.get("web_app")
    if (start is None) == (web_app is None):
        raise InlineRefused("BUTTON_TYPE_INVALID")
    if start is not None and not START_PARAMETER.fullmatch(str(start)):
        raise InlineRefused("START_PARAM_INVALID")


def inline_query(query_id: str, user: JSON, query: str, chat_type: str, offset: str) -> JSON:
    """An update carrying an InlineQuery: ``user`` typed ``@bot <query>`` in a chat of
    ``chat_type`` (``sender`` is their private chat with the bot)."""
    return {
        "inline_query": {
            "id": query_id,
            "from": user,
            "query": query,
            "offset": offset,
            "chat_type": chat_type,
        }
    }

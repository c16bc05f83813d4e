"""A caption's first line becomes the upload's title, the lines after it the description; its
#hashtags become tags (and stay in the description's text)."""

from __future__ import annotations

import re
import unicodedata

from bot.domain import UploadOptions

TITLE_MAX = 100
"""Chevereto cuts titles to 100 characters; cutting here keeps huge captions off the wire."""
DESCRIPTION_MAX = 5000
TAG_MAX = 50
HASHTAG = re.compile(r"(?<![\w#])#(\w+)")


def _clean(text: str) -> str:
    """Control characters become spaces and runs of white space one space; RTL marks stay."""
    visible = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(visible.split())


def tags_of(caption: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for match in HASHTAG.finditer(caption):
        tag = match.group(1)
        if len(tag) <= TAG_MAX:
            seen.setdefault(tag, None)
    return tuple(seen)


def clean_title(title: str | None) -> str | None:
    """A title as the host may receive it, from wherever it came: no control characters, at
    most 100 characters (an /upload option is typed freely)."""
    return (_clean(title)[:TITLE_MAX].strip() or None) if title else None


def clean_tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    """Tags without control characters; empty and overlong ones left out, each once."""
    cleaned = (_clean(tag) for tag in tags)
    return tuple(dict.fromkeys(tag for tag in cleaned if 0 < len(tag) <= TAG_MAX))


def clean_description(text: str | None) -> str | None:
    """A description as the host may receive it: each line without control characters, the
    line breaks kept (at most one empty line in a row), at most 5,000 characters."""
    if not text:
        return None
    lines = [_clean(line) for line in text.splitlines()]
    kept = "\n".join(lines).strip()
    while "\n\n\n" in kept:
        kept = kept.replace("\n\n\n", "\n\n")
    return kept[:DESCRIPTION_MAX].strip() or None


def options_from_caption(caption: str | None) -> UploadOptions:
    """The first line's title (hashtags taken out, cut to 100 characters), the following lines'
    description (hashtags kept), and every hashtag's tag."""
    if not caption:
        return UploadOptions()
    first, _, rest = caption.strip().partition("\n")
    title = _clean(HASHTAG.sub(" ", first))[:TITLE_MAX].strip()
    return UploadOptions(
        title=title or None, description=clean_description(rest), tags=tags_of(caption)
    )

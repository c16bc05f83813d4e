"""File names as the host and the user see them: a platform hands over whatever its users typed.

A name may carry folders (``../../tmp/x.png``, ``C:\\Users\\x.png``), control characters (a
NUL byte breaks the multipart header, so the host refuses the request) or bidirectional
overrides that make ``gnp.exe`` read as ``exe.png``. Only the base name is kept, without
those characters, at most ``MAX_CHARS`` long; letters of every script stay as they were sent
(a Chinese name arrives as it was written). A name with nothing left gets a default for its
type, so the upload still goes through.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from typing import Final

from bot.domain import media_kind
from bot.links.sniff import EXTENSIONS

MAX_CHARS: Final = 200
_DRIVE: Final = re.compile(r"^[A-Za-z]:")
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _kept(char: str) -> bool:
    return unicodedata.category(char) != "Cc" and char not in _BIDI_CONTROLS


def _ending_of(content_type: str | None) -> str:
    """The usual ending of a type, with its dot; "" when the type names none."""
    endings = EXTENSIONS.get(content_type or "")
    if endings:
        return f".{endings[0]}"
    return (content_type and mimetypes.guess_extension(content_type)) or ""


def default_filename(content_type: str | None) -> str:
    """``image.png``, ``video.mp4``: a name for a file that came without a usable one."""
    kind = media_kind(content_type)
    return f"{kind.value if kind else 'file'}{_ending_of(content_type)}"


def safe_filename(name: str, content_type: str | None) -> str:
    """``name`` as its base name alone, without control characters, at most MAX_CHARS long
    (its ending kept); the default for ``content_type`` when nothing is left."""
    cleaned = "".join(char for char in name if _kept(char))
    base = _DRIVE.sub("", cleaned.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if base in ("", ".", ".."):
        return default_filename(content_type)
    if len(base) <= MAX_CHARS:
        return base
    stem, dot, ending = base.rpartition(".")
    if not dot or not stem or len(ending) > 16:
        return base[:MAX_CHARS]
    return f"{stem[: MAX_CHARS - len(ending) - 1]}.{ending}"

"""Every user-facing sentence, in English and Simplified Chinese.

A :class:`Text` is a key with parameters; a parameter may itself be a Text or a
list of Texts (rendered one per line), so a reply can be built by the core and
rendered in the reader's language by the adapter, even after a restart.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Literal

from bot import errors
from bot.domain import Text
from bot.texts import en, zh_hans

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
CATALOGS: Mapping[Language, dict[str, str]] = {
    "en": dict(en.MESSAGES),
    "zh": dict(zh_hans.MESSAGES),
}

log = logging.getLogger(__name__)


def language_of(code: str | None) -> Language:
    """zh, zh-hans, zh-cn, zh-sg (any case, - or _) are Chinese; everything else is English."""
    parts = (code or "").replace("_", "-").lower().split("-")
    if parts[0] != "zh":
        return "en"
    return "en" if len(parts) > 1 and parts[1] in ("hant", "tw", "hk", "mo") else "zh"


def register(catalogs: Mapping[Language, Mapping[str, str]]) -> None:
    """Adds a platform's own sentences, in every language, under keys no one else uses."""
    if set(catalogs) != set(LANGUAGES):
        raise ValueError("a catalog must give every language")
    for language, messages in catalogs.items():
        taken = {key for key, text in messages.items() if CATALOGS[language].get(key, text) != text}
        if taken:
            raise ValueError(f"catalog keys already used: {', '.join(sorted(taken))}")
        CATALOGS[language].update(messages)


def t(key: str, /, **params: object) -> Text:
    return Text(key, params)


CODE_KEY = "$code"
CODE_OPEN, CODE_CLOSE = "\x02", "\x03"
"""Around a code span in a marked rendering. Neither can be in a title or a file name (control
characters are cleaned out of both) nor in a URL."""


def code(snippet: str) -> Text:
    """``snippet`` to show as code (monospace, copied whole), where the platform can."""
    return Text(CODE_KEY, {"code": snippet})


def render(text: Text, language: Language) -> str:
    """The text in that language; nested Texts are rendered too, lists one per line."""
    return render_marked(text, language).replace(CODE_OPEN, "").replace(CODE_CLOSE, "")


def render_marked(text: Text, language: Language) -> str:
    """Like ``render``, with each code span between ``CODE_OPEN`` and ``CODE_CLOSE``, for a
    platform that formats code (see ``code_spans``)."""
    if text.key == CODE_KEY:
        return f"{CODE_OPEN}{text.params['code']}{CODE_CLOSE}"
    template = CATALOGS[language].get(text.key) or CATALOGS["en"][text.key]
    values = {name: _render_param(value, language) for name, value in text.params.items()}
    return template.format(**values)


def code_spans(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """The plain text of a marked rendering, and where its code spans are in it (start, end)."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    at = 0
    for index, part in enumerate(marked.replace(CODE_CLOSE, CODE_OPEN).split(CODE_OPEN)):
        if index % 2 and part:
            spans.append((at, at + len(part)))
        plain.append(part)
        at += len(part)
    return "".join(plain), spans


def _render_param(value: object, language: Language) -> str:
    if isinstance(value, Text):
        return render_marked(value, language)
    if isinstance(value, bool):
        return render(Text("on" if value else "off"), language)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "\n".join(_render_param(item, language) for item in value)
    return str(value)


_PLAIN: tuple[tuple[type[BaseException], str], ...] = (
    (errors.NotLinked, "error.not_linked"),
    (errors.LinkIsPage, "error.link_page"),
    (errors.LinkNotMedia, "error.link_not_media"),
    (errors.LinkTooSlow, "error.link_slow"),
    (errors.LinkUnreachable, "error.link_unreachable"),
    (errors.NotALink, "error.not_a_link"),
    (errors.LinkSchemeRefused, "error.link_scheme"),
    (errors.LinkHasCredentials, "error.link_credentials"),
    (errors.LinkWithoutHost, "error.link_without_host"),
    (errors.AddressRefused, "error.link_address"),
    (errors.UnsupportedMedia, "error.unsupported"),
    (errors.MediaUnavailable, "error.media_unavailable"),
    (errors.SourceRefused, "error.source_refused"),
    (errors.SizeMismatch, "error.size_mismatch"),
    (errors.InvalidExpiration, "error.invalid_expiration"),
    (errors.InvalidAlbum, "error.invalid_album"),
    (errors.NotAllowed, "error.not_allowed"),
    (errors.RateLimited, "error.rate_limited"),
    (errors.KeyRejected, "error.key_rejected"),
    (errors.UploadsDisabled, "error.uploads_disabled"),
    (errors.Duplicate, "error.duplicate"),
    (errors.FileRefused, "error.file_refused"),
    (errors.HostFull, "error.host_full"),
    (errors.HostRejected, "error.host_rejected"),
    (errors.HostTooSlow, "error.host_slow"),
    (errors.NotTheApi, "error.host_page"),
    (errors.HostFlooding, "error.host_flooding"),
    (errors.HostDown, "error.host_down"),
    (errors.HostUnavailable, "error.host_unavailable"),
    (errors.SourceTooSlow, "error.source_slow"),
    (errors.SourceUnavailable, "error.source_unavailable"),
)


def _with_params(error: BaseException) -> Text | None:
    if isinstance(error, errors.MediaTooLarge):
        return t("error.too_large", limit=error.limit_mb)
    if isinstance(error, errors.FileTooLargeForHost):
        return _too_large_for_host(error)
    if isinstance(error, errors.InvalidArgument):
        return t("error.invalid_argument", usage=error.usage)
    if isinstance(error, errors.QuotaReached):
        return t("error.quota_reached", limit=error.limit)
    return _link_with_params(error)


def _too_large_for_host(error: errors.FileTooLargeForHost) -> Text:
    """The host's limit when it said it; a proxy in front of it has a sentence of its own."""
    if isinstance(error, errors.ProxyRefusedSize):
        return t("error.host_proxy_size")
    if error.limit_mb is None:
        return t("error.host_too_large_unknown")
    return t("error.host_too_large", limit=error.limit_mb)


def _link_with_params(error: BaseException) -> Text | None:
    if isinstance(error, errors.TooManyRedirects):
        return t("error.link_redirects", limit=error.limit)
    if isinstance(error, errors.LinkBadStatus):
        return t("error.link_status", status=error.status)
    return None


def error_text(error: BaseException) -> Text:
    """One sentence for any error; an unexpected one is logged with a reference the user sees."""
    text = _with_params(error)
    if text is not None:
        return text
    for kind, key in _PLAIN:
        if isinstance(error, kind):
            return t(key)
    return unexpected(error)


def unexpected(error: BaseException) -> Text:
    ref = secrets.token_hex(4)
    log.error("unexpected error, reference %s", ref, exc_info=error)
    return t("error.unexpected", ref=ref)


def split(text: str, limit: int) -> list[str]:
    """Chunks of at most ``limit`` characters, cut between lines where possible: a rendered
    reply longer than a platform's message limit, as several messages."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        cut = range(0, len(line), limit)
        *whole, current = [line[start : start + limit] for start in cut] or [""]
        chunks += whole
    return [*chunks, current]

"""Logging set-up: text or JSON lines, and a filter that masks anything shaped like a secret.

Secrets should never reach a log call in the first place; the filter is the
second line of defence (a library logging a request URL with the bot token).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import TextIO

SECRET_SHAPES = (
    re.compile(r"chv_[A-Za-z0-9_]{8,}"),  # Chevereto API keys
    re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}"),  # bot tokens shaped like 123456:ABC-def…
)
MASK = "***"
_SLASH = r"(?:/|\\+/|%2[Ff])"
DELETE_LINK = re.compile(rf"({_SLASH}delete{_SLASH})[A-Za-z0-9]+")
"""The hash of a Chevereto delete link, whatever comes before it (``/image/<id>``,
``/video/<id>``, ``/clip/<id>``, another form) and however the slashes are written: plain,
escaped as the host's JSON writes them (``\\/``, doubled again in a repr) or URL-encoded. The
hash alone is the secret: the rest says which upload a line is about."""


class RedactSecrets(logging.Filter):
    """Replaces known secrets and secret-shaped strings in every record's final message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        for shape in SECRET_SHAPES:
            text = shape.sub(MASK, text)
        return DELETE_LINK.sub(rf"\g<1>{MASK}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.redact(record.getMessage())
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        record.msg, record.args = message, None
        return True


class _QuietHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def handleError(self, record: logging.LogRecord) -> None:
        """Drops a line that could not be written, instead of printing its exception raw."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(
    level: str,
    fmt: str,
    secrets: Iterable[str],
    sdk_loggers: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Logs to ``stream`` (stderr); HTTP client libraries stay at WARNING since request URLs hold
    tokens, and the platforms' SDKs (``sdk_loggers``) at INFO, since at DEBUG they log keys and
    links. A line that cannot be written is dropped quietly: logging's own report of the failure
    would print the record's exception unmasked."""
    handler = _QuietHandler(stream)
    handler.addFilter(RedactSecrets(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for sdk in sdk_loggers:
        logging.getLogger(sdk).setLevel(max(logging.INFO, root.level))

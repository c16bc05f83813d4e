"""The host's answers: the image of a success, or the typed error a failure means.

Decisions where the host's answer leaves room:

- ``130 Flooding detected`` is rate limiting, a passing state of the host: it becomes
  HostUnavailable and is retried with backoff like a 503. (``130 Empty upload source``
  is a client bug and becomes HostRejected.)
- ``403 URL uploading is disabled`` is neither the file's nor the key's fault: it becomes
  ``HostRejected(403, ...)``.
- A 3xx on the upload call is ``Redirected``, a HostUnavailable that no retry cures: a
  wrong base URL or an http-to-https redirect answers the same every time.
- JSON that is not shaped like an upload answer becomes ``HostRejected("bad-answer")`` and
  is not retried: the upload may have happened, and a retry would be a duplicate.
- An HTTP 413 (from a proxy in front of the host; Chevereto itself never sends one) is
  ``FileTooLargeForHost(None)``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Container
from datetime import UTC, datetime
from typing import Final

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bot.domain import HostImage
from bot.errors import (
    Duplicate,
    FileRefused,
    FileTooLargeForHost,
    HostError,
    HostFull,
    HostRejected,
    HostUnavailable,
    KeyRejected,
    SourceInfoRefused,
    UploadsDisabled,
)

log = logging.getLogger(__name__)


class Redirected(HostUnavailable):
    """The host answered a 3xx: a wrong base URL, which no retry cures."""


class _Picture(BaseModel):
    """One of the image's sizes (``thumb``, ``medium``): its ``url`` is null for small images."""

    model_config = ConfigDict(extra="ignore")

    url: str | None = None


class _Image(BaseModel):
    """The fields of ``image`` the bot uses; ``url`` and ``display_url`` are absent while
    the image awaits moderation."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id_encoded: str
    url_viewer: str
    url_short: str
    delete_url: str
    expiration_date_gmt: datetime | None = None
    url: str | None = None
    display_url: str | None = None
    md5: str | None = None
    size: int | None = None
    mime: str | None = None
    type: str | None = None
    title: str | None = None
    thumb: _Picture | None = None

    @field_validator("expiration_date_gmt", mode="before")
    @classmethod
    def _utc(cls, value: object) -> object:
        """The host writes ``YYYY-MM-DD HH:MM:SS`` in UTC without saying so."""
        if value == "":
            return None
        if isinstance(value, str):
            return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        return value

    def host_image(self) -> HostImage:
        thumb_url = None if self.thumb is None else self.thumb.url
        return HostImage(**self.model_dump(exclude={"thumb"}), thumb_url=thumb_url)


class _Failure(BaseModel):
    message: str = ""
    code: int | str = 0


class _Answer(BaseModel):
    image: _Image | None = None
    error: _Failure | None = None


_TOO_BIG = re.compile(r"File too big - max (\d+) MB")


_BY_CODE: Final[tuple[tuple[Container[int], Callable[[], HostError]], ...]] = (
    ((100,), lambda: KeyRejected("the host refused the key")),
    ((401,), lambda: UploadsDisabled("the site refuses API uploads")),
    (range(101, 104), lambda: Duplicate("already on the host")),
    ((104, 900), lambda: HostFull("the host has no storage left")),
    ((610,), lambda: SourceInfoRefused("the host could not take the file as sent (code 610)")),
    (range(600, 633), lambda: FileRefused("the host refused the file")),
)


def _host_error(code: int | str, message: str) -> HostError:
    """The typed error for one row of the host's error table."""
    log.warning("Chevereto answered error %r: %s", code, message)
    if isinstance(code, str) or code == 0:
        return HostRejected(code, message)  # raw PHP or SQL text: for logs only
    if code == 130 and message.startswith("Flooding"):
        return HostUnavailable("the host is rate limiting uploads")
    if code == 400:
        return _error_400(message)
    make = next((make for codes, make in _BY_CODE if code in codes), None)
    # 110, 120, 130 (empty source), 403 and unknown codes: the host's word, kept for logs
    return make() if make is not None else HostRejected(code, message)


def _error_400(message: str) -> HostError:
    too_big = _TOO_BIG.search(message)
    if too_big is not None:
        return FileTooLargeForHost(int(too_big.group(1)))
    if message.startswith("File too big"):
        return FileTooLargeForHost(None)
    return FileRefused("the host refused the file (code 400)")


def _check_status(response: httpx.Response) -> None:
    """Raises for the statuses that are not the host's answer: 3xx, 413, 429 and 5xx."""
    status = response.status_code
    if 300 <= status < 400:
        log.warning("upload answered %d to %s", status, response.headers.get("location"))
        raise Redirected(f"host answered a redirect (HTTP {status}): check the base URL")
    if status == 413:
        raise FileTooLargeForHost(None)
    if status == 429 or status >= 500:
        raise HostUnavailable(f"host answered HTTP {status}")


def _json_of(response: httpx.Response) -> object:
    """The JSON body, or None when the body is not JSON (an HTML page, say)."""
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def read_upload(response: httpx.Response) -> HostImage:
    """The image of a format=json answer, or the error the answer means."""
    _check_status(response)
    data = _json_of(response)
    if not isinstance(data, dict):
        raise HostUnavailable(f"host answered HTTP {response.status_code} without JSON")
    try:
        answer = _Answer.model_validate(data)
    except ValidationError as e:
        log.warning("Chevereto answered unexpected JSON: %s", e)
        raise HostRejected("bad-answer", str(e)) from None
    if answer.error is not None:
        raise _host_error(answer.error.code, answer.error.message)
    if answer.image is None or response.status_code != 200:
        raise HostRejected("bad-answer", f"HTTP {response.status_code} without image")
    return answer.image.host_image()


def viewer_of(delete_url: str) -> str | None:
    """The viewer page of a delete link: ``<site>/image/<id>/delete/<hash>`` without its tail."""
    match = re.fullmatch(r"(https?://.+)/delete/[^/?#]+/?", delete_url)
    return match.group(1) if match else None

"""The host's answers: the image of a success, or the typed error a failure means.

Decisions where the host's answer leaves room:

- ``130 Flooding detected`` is the site's upload flood limit, a passing state of the host:
  it becomes HostFlooding, which the job tries again later. A 429 (a rate limit in front of
  the site) is the same. (``130 Empty upload source`` is a client bug: HostRejected.)
- ``403 URL uploading is disabled`` is neither the file's nor the key's fault: it becomes
  ``HostRejected(403, ...)``.
- What is not the API's JSON is NotTheApi: an HTML page or any other body (5xx pages
  included), a body over MAX_HOST_ANSWER_KB, and a 3xx (``Redirected``, which no retry
  cures: a wrong base URL or an http-to-https redirect answers the same every time). Its log
  line names the address that answered and the status.
- JSON that is not shaped like an upload answer becomes ``HostRejected("bad-answer")`` and
  is not retried: the upload may have happened, and a retry would be a duplicate.
- An HTTP 413 whose body is not Chevereto's JSON is a proxy in front of the host refusing
  the size (Chevereto itself never sends one): ProxyRefusedSize.
- The URLs of a success are used only when they are http(s) URLs with a host
  (``bot.chevereto.urls``); the others are left out and the answer goes out without them.
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

from bot.chevereto.urls import usable_links
from bot.domain import HostImage
from bot.errors import (
    Duplicate,
    FileRefused,
    FileTooLargeForHost,
    HostError,
    HostFlooding,
    HostFull,
    HostRejected,
    KeyRejected,
    NotTheApi,
    ProxyRefusedSize,
    Redirected,
    SourceInfoRefused,
    UploadsDisabled,
)

log = logging.getLogger(__name__)


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
        """The image as the bot uses it: its URLs only where they are http(s) URLs."""
        fields = self.model_dump(exclude={"thumb"})
        found = {name: fields.pop(name) for name in ("url_viewer", "url_short", "delete_url")}
        found |= {name: fields.pop(name) for name in ("url", "display_url")}
        found["thumb.url"] = None if self.thumb is None else self.thumb.url
        links = usable_links(found, self.id_encoded)
        return HostImage(
            **fields,
            url_viewer=links.viewer,
            url_short=links.short,
            delete_url=links.get("delete_url"),
            url=links.get("url"),
            display_url=links.get("display_url"),
            thumb_url=links.get("thumb.url"),
        )


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
        return HostFlooding("the site's upload flood limit")
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


def _shown(url: httpx.URL) -> str:
    """An address for a log line: without credentials, query or fragment."""
    return str(url.copy_with(username=None, password=None, query=None, fragment=None))


def _json_of(body: bytes | None) -> object:
    """The JSON body, or None when there is none (over the limit) or it is not JSON."""
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _is_chevereto(data: object) -> bool:
    """Shaped like one of Chevereto's JSON answers: a success's ``image`` or an ``error``."""
    return isinstance(data, dict) and ("image" in data or "error" in data)


def _not_the_api(response: httpx.Response, body: bytes | None) -> NotTheApi:
    """What came instead of the API's answer, logged with where it came from and its status."""
    status, where = response.status_code, _shown(response.request.url)
    if 300 <= status < 400:
        location = response.headers.get("location")
        target = _shown(response.request.url.join(location)) if location else "nowhere"
        log.warning(
            "%s answered a redirect (HTTP %d) to %s: check CHEVERETO_URL", where, status, target
        )
        return Redirected(f"a redirect (HTTP {status}): check the base URL")
    if body is None:
        what = "an answer larger than MAX_HOST_ANSWER_KB"
    else:
        kind = response.headers.get("content-type", "").split(";")[0].strip() or "no type"
        what = "an HTML page" if kind == "text/html" or body.lstrip()[:1] == b"<" else kind
    log.warning("%s answered HTTP %d with %s, not the API", where, status, what)
    return NotTheApi(f"HTTP {status} with {what}, not the API")


def read_upload(response: httpx.Response, body: bytes | None) -> HostImage:
    """The image of a format=json answer, or the error the answer means. ``body`` is what was
    read of it: None when it was over MAX_HOST_ANSWER_KB."""
    status = response.status_code
    data = None if 300 <= status < 400 else _json_of(body)
    if status == 413 and not _is_chevereto(data):
        log.warning("%s answered HTTP 413: a proxy refuses the size", _shown(response.request.url))
        raise ProxyRefusedSize
    if status == 429:
        log.warning("%s answered HTTP 429: rate limited", _shown(response.request.url))
        raise HostFlooding("HTTP 429")
    if not isinstance(data, dict) or status >= 500:
        raise _not_the_api(response, body)
    try:
        answer = _Answer.model_validate(data)
    except ValidationError as e:
        log.warning("Chevereto answered unexpected JSON: %s", e)
        raise HostRejected("bad-answer", str(e)) from None
    if answer.error is not None:
        raise _host_error(answer.error.code, answer.error.message)
    if answer.image is None or status != 200:
        raise HostRejected("bad-answer", f"HTTP {status} without image")
    return answer.image.host_image()


def api_answered(response: httpx.Response, body: bytes | None) -> bool:
    """Whether the answer to a key-less upload call is the API's own JSON error: code 100 ("No
    key provided"), which a working site gives, or 401 (the site refuses API uploads, which the
    uploads then hear themselves). A page, a redirect, a 5xx or the flood limit is not."""
    data = None if 300 <= response.status_code < 400 else _json_of(body)
    error = data.get("error") if isinstance(data, dict) else None
    return isinstance(error, dict) and error.get("code") in (100, 401)


def viewer_of(delete_url: str) -> str | None:
    """The viewer page of a delete link: ``<site>/image/<id>/delete/<hash>`` without its tail."""
    match = re.fullmatch(r"(https?://.+)/delete/[^/?#]+/?", delete_url)
    return match.group(1) if match else None

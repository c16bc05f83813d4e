"""Plain, frozen types the core and the adapters exchange. No I/O here."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


def media_kind(content_type: str | None) -> MediaKind | None:
    """The kind a MIME type names, or None when it is neither image nor video."""
    major = (content_type or "").split("/", 1)[0].strip().lower()
    if major == "image":
        return MediaKind.IMAGE
    if major == "video":
        return MediaKind.VIDEO
    return None


def media_type(declared: str | None, filename: str | None) -> str | None:
    """The file's MIME type: the platform's when it names an image or a video, else the one its
    name suggests (a video declared ``application/octet-stream``, or not at all). The host tells
    image from video by this type alone, so a video must go out with its ``video/*`` one."""
    if media_kind(declared) is not None or not filename:
        return declared
    guessed = mimetypes.guess_type(filename)[0]
    return guessed if media_kind(guessed) is not None else declared


@dataclass(frozen=True, slots=True)
class UserRef:
    """A user on one platform (by the platform's name); keys and preferences are kept per both."""

    platform: str
    id: str


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A chat, group or channel on one platform: where something was posted or asked."""

    platform: str
    id: str
    kind: ChatKind
    community: str | None = None
    """The server (guild) the chat belongs to, on platforms that have them: access lists name
    it. None where the chat is its own community (a group) or has none (a private chat)."""

    @property
    def is_private(self) -> bool:
        return self.kind is ChatKind.PRIVATE


@dataclass(frozen=True, slots=True)
class UploadOptions:
    """Per-upload fields sent to the host; None means "not set here"."""

    title: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    album_id: str | None = None
    category_id: int | None = None
    width: int | None = None
    expiration: str | None = None
    nsfw: bool | None = None
    file_date: bool | None = None
    """``use_file_date``: the host dates the upload by the file's Exif date (applied for a site
    admin's key only)."""

    def over(self, base: UploadOptions) -> UploadOptions:
        """These options, with every unset field (None, or no tags) taken from ``base``."""
        values: dict[str, Any] = {}
        for option in fields(self):
            mine = getattr(self, option.name)
            values[option.name] = getattr(base, option.name) if mine in (None, ()) else mine
        return UploadOptions(**values)


@dataclass(frozen=True, slots=True)
class HostImage:
    """What the host answered for one upload. ``delete_url`` is a secret: it deletes on GET.

    Every URL is an http(s) URL, or None where the host gave none the bot can use: the viewer
    None means no link to show at all (the short link stands in for an unusable viewer, so
    ``url_short`` is then None too)."""

    id_encoded: str
    url_viewer: str | None
    url_short: str | None
    delete_url: str | None = field(repr=False)
    expiration_date_gmt: datetime | None = None
    url: str | None = None
    display_url: str | None = None
    md5: str | None = None
    size: int | None = None
    mime: str | None = None
    type: str | None = None
    title: str | None = None
    thumb_url: str | None = None
    """``image.thumb.url``: a small picture of it (absent for small images, or in moderation)."""


class EmbedForm(StrEnum):
    """What an answer carries besides the links (``/format``): nothing, the direct file link,
    or one of the host's "full linked" embed codes."""

    LINKS = "links"
    DIRECT = "direct"
    MARKDOWN = "markdown"
    BBCODE = "bbcode"
    HTML = "html"


class Borrowed(StrEnum):
    """Whose key an upload went up with, when it was not the uploader's own: the bot's shared
    key (DEFAULT_API_KEY) or the key of the admin who mirrors the chat. Either way the file is
    in that key's account on the site, not the uploader's."""

    SHARED = "shared"
    ADMIN = "admin"


class Outcome(StrEnum):
    UPLOADED = "uploaded"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """One upload as the bot keeps it. ``delete_url`` is a secret: it deletes on a plain GET.
    A URL is None where the host gave none the bot can use (see ``HostImage``)."""

    id: int
    user: UserRef
    filename: str
    url_viewer: str | None
    url_short: str | None
    delete_url: str | None = field(repr=False)
    expires_at: datetime | None
    created_at: datetime
    deleted: bool = False
    url: str | None = None
    """The direct file link (``image.url``); absent while the image awaits moderation."""
    title: str | None = None
    thumb_url: str | None = None
    media_type: str | None = None
    """``image`` or ``video``, as the host said."""


class Visibility(StrEnum):
    PUBLIC = "public"
    """Everyone in the chat sees it."""
    USER_ONLY = "user_only"
    """Meant for the user, and holding nothing secret: in place when the chat is private or the
    platform can show it to them alone (ephemeral); elsewhere the platform may answer in place
    or privately."""
    PRIVATE_TO_USER = "private_to_user"
    """Sent to the user's private chat (DM), whatever chat the request came from."""


@dataclass(frozen=True, slots=True)
class Text:
    """A sentence by its catalog key, with parameters (plain values, Texts, lists of Texts)."""

    key: str
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict[str, object]:
        return {"key": self.key, "params": {k: _param_json(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Text:
        params = data.get("params") or {}
        assert isinstance(params, Mapping)
        return cls(str(data["key"]), {k: _param_from_json(v) for k, v in params.items()})


def _param_json(value: object) -> object:
    if isinstance(value, Text):
        return {"$text": value.to_json()}
    if isinstance(value, list | tuple):
        return [_param_json(v) for v in value]
    return value


def _param_from_json(value: object) -> object:
    if isinstance(value, Mapping) and "$text" in value:
        return Text.from_json(value["$text"])
    if isinstance(value, list):
        return [_param_from_json(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Button:
    """A URL button, or an action button whose ``action`` is callback data holding no secret."""

    label: Text
    url: str | None = None
    action: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a reply carries (a backfill's CSV)."""

    name: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Reply:
    """A message for the user: its text, buttons, and who may see it."""

    text: Text
    buttons: tuple[Button, ...] = ()
    visibility: Visibility = Visibility.PUBLIC
    secret: bool = False
    """Holds a delete link: never public, always sent with link previews and embeds off."""
    attachment: Attachment | None = None

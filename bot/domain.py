"""Plain, frozen types the core and the adapters exchange. No I/O here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType


class Platform(StrEnum):
    TELEGRAM = "telegram"
    DISCORD = "discord"


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


@dataclass(frozen=True, slots=True)
class UserRef:
    """A user on one platform; preferences and keys are kept per user and platform."""

    platform: Platform
    id: str


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A chat (Telegram) or channel (Discord) on one platform."""

    platform: Platform
    id: str
    kind: ChatKind

    @property
    def is_private(self) -> bool:
        return self.kind is ChatKind.PRIVATE


Fetch = Callable[[Path], Awaitable[None]]
"""Writes the media's bytes to the given path: the adapter knows how, the core decides when."""


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

    def over(self, base: UploadOptions) -> UploadOptions:
        """These options, with every unset field taken from ``base``."""
        return UploadOptions(
            title=self.title if self.title is not None else base.title,
            description=self.description if self.description is not None else base.description,
            tags=self.tags or base.tags,
            album_id=self.album_id if self.album_id is not None else base.album_id,
            category_id=self.category_id if self.category_id is not None else base.category_id,
            width=self.width if self.width is not None else base.width,
            expiration=self.expiration if self.expiration is not None else base.expiration,
            nsfw=self.nsfw if self.nsfw is not None else base.nsfw,
        )


@dataclass(frozen=True, slots=True)
class IncomingMedia:
    """A file a user sent, described before it is downloaded."""

    user: UserRef
    chat: ChatRef
    kind: MediaKind | None
    filename: str
    content_type: str | None
    size: int | None
    fetch: Fetch
    caption: str | None = None
    options: UploadOptions = field(default_factory=UploadOptions)


@dataclass(frozen=True, slots=True)
class HostImage:
    """What the host answered for one upload. ``delete_url`` is a secret: it deletes on GET."""

    id_encoded: str
    url_viewer: str
    url_short: str
    delete_url: str = field(repr=False)
    expiration_date_gmt: datetime | None = None
    url: str | None = None
    display_url: str | None = None
    md5: str | None = None
    size: int | None = None
    mime: str | None = None
    type: str | None = None
    title: str | None = None


class Outcome(StrEnum):
    UPLOADED = "uploaded"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one file: uploaded (with its image), already on the host, or failed."""

    filename: str
    outcome: Outcome
    image: HostImage | None = None
    error: Exception | None = None
    upload_id: int | None = None


class Visibility(StrEnum):
    PUBLIC = "public"
    """Everyone in the chat sees it."""
    USER_ONLY = "user_only"
    """Only the user: the private chat it came from, or an ephemeral Discord reply."""
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
class Reply:
    """A message for the user: its text, buttons, and who may see it."""

    text: Text
    buttons: tuple[Button, ...] = ()
    visibility: Visibility = Visibility.PUBLIC
    secret: bool = False
    """Holds a delete link: never public, always sent with link previews and embeds off."""

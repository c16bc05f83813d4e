"""What a job stores: its files, options and answer target; and what became of each file.

A job may run long after the event that made it (a restart, a host outage), so it
keeps references, not live objects: each file as its platform will find it again
(``FileRef.locator``, which the adapter writes and reads, never a URL holding a
token), and where to answer (``AnswerTarget``). Every type turns into JSON and back,
because the job lives sealed in the database between those moments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Self

from bot.domain import (
    ChatKind,
    ChatRef,
    EmbedForm,
    MediaKind,
    Outcome,
    Text,
    UploadOptions,
    UploadRecord,
    UserRef,
    media_kind,
)
from bot.texts import Language
from bot.upload.filenames import safe_filename

LINK_NAME = "link"
"""A link's file name until its server names the file (``Download.filename``)."""


@dataclass(frozen=True, slots=True)
class FileRef:
    """One file of a job: what the core checks before fetching it, and the adapter's way to it."""

    filename: str
    content_type: str | None
    size: int | None
    """As the platform declares it; the real size is checked again once fetched."""
    locator: str = field(repr=False)
    """The adapter's own reference (a file id, an attachment's ids): opaque to the core. For
    a link, the link itself, kept out of reprs (its query may hold a secret)."""
    link: bool = False
    """A link a user sent: the core fetches it itself (``bot.links.fetcher``), not the platform. Its
    name, type and size are known only once its first bytes have come."""
    width: int | None = None
    """An image's width in pixels, when the platform says it: a default width is sent only
    for an image wider than it."""

    def __post_init__(self) -> None:
        """Whatever a platform's user typed as the name, the core sees a safe one."""
        object.__setattr__(self, "filename", safe_filename(self.filename, self.content_type))

    @classmethod
    def of_link(cls, link: str) -> Self:
        """A job's file that is the file at ``link`` (a checked one, see ``check_link``)."""
        return cls(LINK_NAME, None, None, link, link=True)

    @property
    def kind(self) -> MediaKind | None:
        return media_kind(self.content_type)

    def to_json(self) -> dict[str, object]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "locator": self.locator,
            "link": self.link,
            "width": self.width,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            data["filename"],
            data["content_type"],
            data["size"],
            data["locator"],
            link=data.get("link", False),
            width=data.get("width"),
        )


Fetch = Callable[[], AsyncIterator[bytes]]
"""A file's bytes as they arrive from its platform: the adapter knows how, the core when."""


@dataclass(frozen=True, slots=True)
class IncomingMedia:
    """One file to upload: who sent it, where, how to fetch it, and what to upload it with."""

    user: UserRef
    chat: ChatRef
    file: FileRef
    fetch: Fetch
    caption: str | None = None
    options: UploadOptions = field(default_factory=UploadOptions)
    spool: str | None = None
    """The name the file is kept under between a job's attempts (None: not kept)."""


@dataclass(frozen=True, slots=True)
class AnswerTarget:
    """Where a job's answers go, besides its chat: the message they reply to, the adapter's
    own handle (an interaction to answer on, say), and the job's status message; all three
    opaque to the core."""

    reply_to: str | None = None
    handle: str | None = None
    status: str | None = None
    """The status message the platform's ``progress`` showed (its handle), which the public
    answer replaces. The runner keeps it in the job's results, so that it outlives the
    process that showed it, and hands it back here."""

    def to_json(self) -> dict[str, object]:
        return {"reply_to": self.reply_to, "handle": self.handle, "status": self.status}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(data.get("reply_to"), data.get("handle"), data.get("status"))


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Who asked, where, in which language, for which files, with what options, answered where."""

    user: UserRef
    chat: ChatRef
    language: Language
    items: tuple[FileRef, ...]
    caption: str | None = None
    options: UploadOptions = field(default_factory=UploadOptions)
    ephemeral: bool = False
    """Asked so that answers for the user alone can be shown in place (a private reply)."""
    answer: AnswerTarget = field(default_factory=AnswerTarget)

    def medias(
        self, fetch: Callable[[FileRef], AsyncIterator[bytes]], job_id: int | None = None
    ) -> list[IncomingMedia]:
        """One IncomingMedia per item, in order, fetched through ``fetch``; a stored job's
        files are kept between its attempts under names of its own."""
        return [
            IncomingMedia(
                self.user,
                self.chat,
                item,
                partial(fetch, item),
                self.caption,
                self.options,
                None if job_id is None else f"job-{job_id}-{index}",
            )
            for index, item in enumerate(self.items)
        ]

    def keeping(self, indexes: list[int]) -> JobSpec:
        """This job with only the items at ``indexes``."""
        return replace(self, items=tuple(self.items[i] for i in indexes))

    def joined(self, other: JobSpec) -> JobSpec:
        """An album's job with another item's files added; the first caption found stays."""
        return replace(self, items=self.items + other.items, caption=self.caption or other.caption)

    def with_status(self, status: str | None) -> JobSpec:
        """This job, its answers replacing the status message ``status`` (None: no message)."""
        return replace(self, answer=replace(self.answer, status=status))

    def to_json(self) -> dict[str, object]:
        return {
            "platform": self.user.platform,
            "user": self.user.id,
            "chat": self.chat.id,
            "chat_kind": self.chat.kind.value,
            "community": self.chat.community,
            "language": self.language,
            "items": [item.to_json() for item in self.items],
            "caption": self.caption,
            "options": self.options.to_json(),
            "ephemeral": self.ephemeral,
            "answer": self.answer.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        platform = data["platform"]
        return cls(
            user=UserRef(platform, data["user"]),
            chat=ChatRef(
                platform, data["chat"], ChatKind(data["chat_kind"]), data.get("community")
            ),
            language=data["language"],
            items=tuple(FileRef.from_json(item) for item in data["items"]),
            caption=data["caption"],
            options=UploadOptions.from_json(data["options"]),
            ephemeral=data["ephemeral"],
            answer=AnswerTarget.from_json(data["answer"]),
        )


@dataclass(frozen=True, slots=True)
class FileResult:
    """What became of one file: uploaded (with its record), already on the host, or failed (why)."""

    filename: str
    outcome: Outcome
    upload: UploadRecord | None = None
    reason: Text | None = None
    """Why it failed, as the sentence the user reads."""
    transient: bool = False
    """It failed in a way that passes (the host or the platform down): the job tries it again."""
    size: int = 0
    """Bytes uploaded (0 unless uploaded)."""
    form: EmbedForm = EmbedForm.LINKS
    """What the answer carries for it besides the links: the uploader's ``/format``."""
    note: Text | None = None
    """Said with its links: how the upload differed from what was asked (sent at full width)."""

    def to_json(self) -> dict[str, object]:
        return {
            "form": self.form.value,
            "note": None if self.note is None else self.note.to_json(),
            "filename": self.filename,
            "outcome": self.outcome.value,
            "upload": None if self.upload is None else self.upload.to_json(),
            "reason": None if self.reason is None else self.reason.to_json(),
            "transient": self.transient,
            "size": self.size,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        upload, reason = data["upload"], data["reason"]
        return cls(
            filename=data["filename"],
            outcome=Outcome(data["outcome"]),
            upload=UploadRecord.from_json(upload) if upload else None,
            reason=Text.from_json(reason) if reason else None,
            transient=data["transient"],
            size=data.get("size", 0),
            form=EmbedForm(data.get("form", EmbedForm.LINKS)),
            note=Text.from_json(data["note"]) if data.get("note") else None,
        )


@dataclass(frozen=True, slots=True)
class JobResults:
    """A job's results so far, by item index, saved as each file finishes; whether the public
    answer went out already (a retry of the delete-link message must not repeat it); and the
    job's status message, which the public answer replaces, even after a restart."""

    files: Mapping[int, FileResult] = field(default_factory=dict)
    public_sent: bool = False
    status: str | None = None
    """The handle the platform gave the job's status message (``AnswerTarget.status``)."""

    def settled(self) -> dict[int, FileResult]:
        """The files that need no further try."""
        return {index: result for index, result in self.files.items() if not result.transient}

    def to_json(self) -> dict[str, object]:
        return {
            "files": {str(index): result.to_json() for index, result in self.files.items()},
            "public_sent": self.public_sent,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        files = {int(index): FileResult.from_json(r) for index, r in data["files"].items()}
        return cls(files, data["public_sent"], data.get("status"))

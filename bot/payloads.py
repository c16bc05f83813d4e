"""What a job stores: its files, options and answer target; and what became of each file.

A job may run long after the event that made it (a restart, a host outage), so it
keeps references, not live objects: each file as its platform will find it again
(``FileRef.locator``, which the adapter writes and reads, never a URL holding a
token), and where to answer (``AnswerTarget``). A job's spec and its results live sealed in
the database between those moments, as JSON that pydantic writes and reads from these very
types (``spec_to_json`` and its kin); what an earlier release wrote is read too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, PlainSerializer, TypeAdapter

from bot.domain import (
    Borrowed,
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


def _text_of(value: object) -> object:
    return Text.from_json(value) if isinstance(value, Mapping) else value


Sentence = Annotated[
    Text, BeforeValidator(_text_of), PlainSerializer(lambda text: text.to_json(), return_type=dict)
]
"""A Text as JSON: its own form, which keeps nested Texts (``Text.to_json``)."""


def _nested_user(value: object) -> object:
    """An upload record as the release before this one wrote it: its user in two flat fields."""
    if isinstance(value, Mapping) and "platform" in value:
        flat = dict(value)
        flat["user"] = {"platform": flat.pop("platform"), "id": flat["user"]}
        return flat
    return value


Record = Annotated[UploadRecord, BeforeValidator(_nested_user)]


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
    """A link a user sent: the core fetches it itself (``bot.links.fetcher``), not the
    platform. Its name, type and size are known only once its first bytes have come."""
    width: int | None = None
    """An image's width in pixels, when the platform says it: a default width is sent only
    for an image wider than it."""
    source: str | None = None
    """Where on its platform it was posted (a message and its attachment), kept with its upload:
    a file already re-hosted is known by it."""
    sticker: bool = False
    """A sticker: uploaded when a user asks (privately, or with /upload), never by mirroring
    (people answer with stickers all day; each would spend the shared quota)."""

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
    background: bool = False
    """Background work (a backfill's): it takes an upload slot only when no live file waits,
    goes up with the user's own key only, and takes none of their upload defaults."""


@dataclass(frozen=True, slots=True)
class AnswerTarget:
    """Where a job's answers go, besides its chat: the message they reply to, and the adapter's
    own handle (an interaction to answer on, say); both opaque to the core."""

    reply_to: str | None = None
    handle: str | None = None


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


@dataclass(frozen=True, slots=True)
class FileResult:
    """What became of one file: uploaded (with its record), already on the host, or failed (why)."""

    filename: str
    outcome: Outcome
    upload: Record | None = None
    reason: Sentence | None = None
    """Why it failed, as the sentence the user reads."""
    transient: bool = False
    """It failed in a way that passes (the host or the platform down): the job tries it again."""
    size: int = 0
    """Bytes uploaded (0 unless uploaded)."""
    form: EmbedForm = EmbedForm.LINKS
    """What the answer carries for it besides the links: the uploader's ``/format``."""
    note: Sentence | None = None
    """Said with it: how the upload differed from what was asked (sent at full width), or
    what a "Duplicated upload" means for it."""
    borrowed: Borrowed | None = None
    """Uploaded with a key not the uploader's own (whose): it is not in their account."""


@dataclass(frozen=True, slots=True)
class JobResults:
    """A job's state between its attempts, saved as it changes: each settled file's result by
    its index; the files whose earlier try reached the host before its answer was lost (a
    "Duplicated upload" then is that try's file); the job's status message, which the public
    answer replaces, even after a restart; and whether the public answer went out already (a
    retry of the delete-link message must not repeat it)."""

    files: Mapping[int, FileResult] = field(default_factory=dict)
    public_sent: bool = False
    status: str | None = None
    """The handle the platform gave the job's status message (opaque to the core)."""
    reached: frozenset[int] = frozenset()

    def settled(self) -> dict[int, FileResult]:
        """The files that need no further try."""
        return {index: result for index, result in self.files.items() if not result.transient}

    def with_file(self, index: int, result: FileResult) -> JobResults:
        return replace(self, files={**self.files, index: result})


def _nested_spec(value: object) -> object:
    """A spec as the release before this one wrote it: its user and chat in flat fields."""
    if not isinstance(value, Mapping) or "platform" not in value:
        return value
    flat: dict[str, Any] = dict(value)
    platform = flat.pop("platform")
    flat["user"] = {"platform": platform, "id": flat["user"]}
    flat["chat"] = {
        "platform": platform,
        "id": flat["chat"],
        "kind": flat.pop("chat_kind"),
        "community": flat.pop("community", None),
    }
    return flat


_SPEC: TypeAdapter[JobSpec] = TypeAdapter(Annotated[JobSpec, BeforeValidator(_nested_spec)])
_RESULTS: TypeAdapter[JobResults] = TypeAdapter(JobResults)


def spec_to_json(spec: JobSpec) -> str:
    return _SPEC.dump_json(spec).decode()


def spec_of(data: str) -> JobSpec:
    return _SPEC.validate_json(data)


def results_to_json(results: JobResults) -> str:
    return _RESULTS.dump_json(results).decode()


def results_of(data: str) -> JobResults:
    return _RESULTS.validate_json(data)

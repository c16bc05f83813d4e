"""What became of one file the upload service was given: the values it returns.

The service does not record anything: its caller (a job's owner) keeps an upload and its
job's results together, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain import Borrowed, EmbedForm, HostImage, Text
from bot.errors import HostUnavailable, SourceUnavailable
from bot.store import database_unavailable
from bot.texts import error_text


@dataclass(frozen=True, slots=True)
class Uploaded:
    """On the host: what it answered, under which name the file went, how many bytes."""

    filename: str
    image: HostImage
    size: int
    form: EmbedForm = EmbedForm.LINKS
    """What the answer carries for it besides the links: the uploader's ``/format``."""
    note: Text | None = None
    """How the upload differed from what was asked (sent at full width)."""
    borrowed: Borrowed | None = None
    """Whose key it went up with, when not the uploader's own (it is in that account)."""


@dataclass(frozen=True, slots=True)
class AlreadyThere:
    """The host has this file already ("Duplicated upload"): it did not take it again."""

    filename: str


@dataclass(frozen=True, slots=True)
class Failed:
    """Not uploaded, and why: a typed error from the core, the platform or the host."""

    filename: str
    error: Exception
    reason: Text = field(init=False)
    """The sentence the user reads (an unexpected error is logged with its reference here)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", error_text(self.error))

    @property
    def passing(self) -> bool:
        """A failure that passes (the host or the platform down, the database restarting):
        the job tries the file again."""
        error = self.error
        return isinstance(error, HostUnavailable | SourceUnavailable) or database_unavailable(error)

    @property
    def reached_host(self) -> bool:
        """The whole file reached the host before its answer was lost: it may be there."""
        return isinstance(self.error, HostUnavailable) and self.error.after_body


Outcome = Uploaded | AlreadyThere | Failed

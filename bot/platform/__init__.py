"""The adapter contract: what a chat platform must give the core. The core names no platform.

A platform is two things:

- ``PlatformSettings``: its own ``<NAME>_*`` variables (a pydantic-settings model,
  read from the environment or ``.env`` like the core's), whether they enable it,
  and how to build its adapter. Settings classes are light: importing one never
  imports the platform's SDK, so a platform that is not configured costs nothing.
- ``Platform``: the running adapter. It turns platform events into core calls
  (``Core.intake``, ``Core.commands``) and core Replies into platform messages,
  fetches the files its jobs refer to, and runs until cancelled.

``python -m bot`` finds the settings classes through ``bot.platform.registry`` (the
``chevereto_bot.platforms`` entry points), builds those that are enabled with
``Core.connect`` and runs them side by side in one event loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from pydantic_settings import BaseSettings

from bot.domain import Reply, Text, UserRef
from bot.payloads import FileRef, JobSpec
from bot.settings import FROM_ENVIRONMENT
from bot.texts import Language

if TYPE_CHECKING:
    from bot.platform.surface import PlatformCore


class JobHandler(Protocol):
    """What the job runner needs of a platform: its files, a way to answer, and a way to reach
    one person privately."""

    def fetch(self, ref: FileRef) -> AsyncIterator[bytes]:
        """The bytes of the file ``ref`` names, as they arrive (an async generator of chunks):
        memory must not grow with the file, and the upload starts while they come.

        Raises SourceUnavailable when the platform cannot hand it over just now (the job
        tries again later), MediaUnavailable when it never will (deleted, link expired),
        MediaTooLarge when the platform refuses it for its size.
        """
        ...

    async def deliver(self, job: JobSpec, reply: Reply, status: str | None) -> bool:
        """Sends ``reply`` for ``job`` where its visibility allows: PUBLIC in the job's chat
        (replying to ``job.answer.reply_to``), USER_ONLY as ``Visibility`` says, and
        PRIVATE_TO_USER in the user's private chat. A ``secret`` reply (a delete link) never
        reaches a shared chat and goes with link previews off. A PUBLIC reply that is not
        secret replaces the job's status message ``status`` when there is one (the core hands
        it with the first public answer only); if that message is gone, the reply is sent
        anew. Returns False only when a reply meant for the user's private chat cannot reach
        them there.
        """
        ...

    async def progress(self, job: JobSpec, text: Text, status: str | None) -> str | None:
        """Shows ``text`` in the job's one status message: edits ``status`` when the job has
        one, else shows a new one where the public answer will go.

        Returns the status message's handle, opaque to the core: the job keeps it and hands it
        back as ``status`` to every later ``progress`` and to the public answer's
        ``deliver``, from this process or another one (after a restart, or on another
        replica). None when the platform keeps no message of its own for it (it edits a
        deferred response that ``job.answer.handle`` names).
        """
        ...

    async def tell(self, user: UserRef, reply: Reply, language: Language) -> bool:
        """Sends ``reply`` to ``user``'s private chat (a DM), in ``language``, outside any job or
        command: the core's word to one person, such as an admin's notice. Returns False when
        the user cannot be reached there (never started the bot, blocked it, closed DMs).
        """
        ...


@dataclass(frozen=True, slots=True)
class PlatformTexts:
    """The sentences that differ between platforms, as catalog keys (``bot.texts.register``)."""

    upload_help: str
    """The /help line that says how to upload with /upload on this platform."""
    mirror_needs: str
    """What the bot needs in a chat to see every post there, said when mirroring is turned on."""
    file_date_note: str | None = None
    """How to keep a photo's date on this platform, where it strips it (said with /filedate)."""


class Platform(JobHandler, Protocol):
    """One chat platform, running. Its ``name`` is data (``UserRef.platform``), never a branch."""

    name: ClassVar[str]
    texts: ClassVar[PlatformTexts]

    def size_limit_mb(self) -> int:
        """The largest file this platform can hand the bot, capped by MAX_UPLOAD_MB."""
        ...

    def connected(self) -> bool:
        """Whether it is connected to its platform right now (what ``/healthz`` reports)."""
        ...

    async def run(self) -> None:
        """Connects, serves until cancelled, then disconnects cleanly. A network error (at
        start too) is tried again through ``bot.platform.reconnect``, never raised; raises
        TokenRejected when the platform refuses the bot's token."""
        ...


class PlatformSettings(BaseSettings, ABC):
    """A platform's own settings: fields named without the prefix, read as ``<NAME>_<FIELD>``."""

    model_config = FROM_ENVIRONMENT

    name: ClassVar[str]
    """The platform's name, as in ``UserRef.platform``; also the entry point's name."""
    enabling_variable: ClassVar[str]
    """The variable that turns the platform on (its token), named when no platform is set."""
    sdk_loggers: ClassVar[tuple[str, ...]] = ()
    """Loggers of the platform's SDK, kept at INFO or above: at DEBUG they log secrets."""

    @abstractmethod
    def enabled(self) -> bool:
        """Whether the variables that this platform needs to run are set."""

    @abstractmethod
    def secrets(self) -> list[str]:
        """Every secret value among these settings, so that logs can mask them."""

    @abstractmethod
    def connect(self, core: PlatformCore) -> Platform:
        """Builds the adapter on the core; the platform's SDK is imported here, not before."""

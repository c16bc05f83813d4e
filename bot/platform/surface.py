"""The inbound half of the platform contract: all a platform may call in the core.

A platform's adapter is built on this (``PlatformSettings.connect``), not on the whole core:

- ``environment``: what it may read of the settings (DATA_DIR, MAX_UPLOAD_MB, BOT_ADMINS)
  and the core's timings (how to reconnect);
- ``commands``: every command, each a method of ``Commands`` taking a ``Context`` (and
  ``answered`` around each, which applies the access lists and words any failure);
- ``intake``: media someone posted (``posted``) or asked to upload (``requested``);
- ``sharing``: a user's past uploads to offer again (an inline mode);
- ``backfills``: ``/backfill start|status|stop``, for a platform that can read a channel's
  past (``bot.platform.history``);
- ``updates``: the rule for an update that could not be handled (``bot.platform.updates``);
- ``language``: the language a user last used, for an event that carries none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.platform.updates import Updates
from bot.tuning import Tuning

if TYPE_CHECKING:
    from bot.backfill.control import BackfillControl
    from bot.commands import Commands
    from bot.domain import UserRef
    from bot.intake import Intake
    from bot.ops.monitor import Monitor
    from bot.sharing import Sharing
    from bot.store import Store


@dataclass(frozen=True, slots=True)
class Environment:
    """What a platform may read of the core's settings and timings."""

    data_dir: Path
    max_upload_mb: int
    admins: frozenset[tuple[str, str]]
    """BOT_ADMINS: (platform, user id) pairs."""
    tuning: Tuning

    def admins_of(self, platform: str) -> list[str]:
        """The user ids of BOT_ADMINS on ``platform``."""
        return [user_id for name, user_id in self.admins if name == platform]


@dataclass(frozen=True, slots=True)
class PlatformCore:
    """The core as a platform sees it."""

    environment: Environment
    commands: Commands
    intake: Intake
    sharing: Sharing
    backfills: BackfillControl
    _monitor: Monitor = field(repr=False)
    _store: Store = field(repr=False)

    def updates(self, platform: str, *, sends_again: bool) -> Updates:
        """The rule for ``platform``'s updates; ``sends_again``: it sends an update again until
        acknowledged (else a temporary failure is tried again in place)."""
        return Updates(platform, self._monitor, self.environment.tuning, sends_again=sends_again)

    async def language(self, user: UserRef) -> str | None:
        """The language ``user`` last used with the bot (a code ``language_of`` reads), if it
        is known."""
        return (await self._store.prefs.of(user)).language

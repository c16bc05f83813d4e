"""What becomes of an update that could not be handled: one rule for every adapter.

Two kinds of failure are told apart. One that will recur (the update cannot be
parsed, a handler raises again) is logged once, counted and skipped, so that it
costs only itself rather than stalling every update after it. A temporary one
(the database unavailable while the job is stored) is left unacknowledged, so
the platform sends the update again; on a platform that never sends an event
again it is tried again here, with growing pauses, and if it still fails the
poster is told to send it again later. Logs name the update's type and id, never
what it holds; a traceback only at DEBUG.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.ops.monitor import Monitor
from bot.store import database_unavailable
from bot.tuning import Tuning

log = logging.getLogger(__name__)
HANDLER_TRIES = 3
"""Tries in all of an update whose handler raises something other than a temporary failure."""


@dataclass(frozen=True, slots=True)
class UpdateRef:
    """An update as a log line may name it: its type and its id, nothing it holds."""

    kind: str
    id: str | None = None

    def __str__(self) -> str:
        return self.kind if self.id is None else f"{self.kind} {self.id}"


class Outcome(enum.Enum):
    HANDLED = "handled"
    DROPPED = "dropped"
    """It will fail again whenever it comes: logged once, counted, skipped."""
    AGAIN = "again"
    """A temporary failure: not acknowledged, so that the platform sends it again."""
    UNSTORED = "unstored"
    """A temporary failure that lasted, on a platform that will not send it again: the poster
    must be told."""

    @property
    def acknowledged(self) -> bool:
        return self is not Outcome.AGAIN


class Updates:
    """One platform's updates under the rule; ``sends_again``: the platform sends an update
    again until it is acknowledged (else a temporary failure is tried again here)."""

    def __init__(
        self, platform: str, monitor: Monitor, tuning: Tuning, *, sends_again: bool
    ) -> None:
        self._platform = platform
        self._monitor = monitor
        self._backoff = tuning.reconnect
        self._patience_s = tuning.unstored_patience_s
        self._sends_again = sends_again

    def unparsable(self, update: UpdateRef, error: BaseException) -> Outcome:
        """The platform's library cannot read it (newer than the library, or malformed)."""
        self._drop(update, "unparsable", "cannot be parsed; skipped", error)
        return Outcome.DROPPED

    def failed_detached(self, update: UpdateRef, error: BaseException) -> None:
        """A handler that ran beside its update's acknowledgement failed: there is nothing to
        leave unacknowledged or to try again."""
        self._drop(update, "handler_error", "failed after it was acknowledged", error)

    async def handle(self, update: UpdateRef, handler: Callable[[], Awaitable[None]]) -> Outcome:
        """Runs ``handler`` until it succeeds, fails ``HANDLER_TRIES`` times, or meets a
        temporary failure, which is left to the platform or tried again here for a while."""
        failures = pauses = 0
        waited = 0.0
        while True:
            try:
                await handler()
            except Exception as error:
                if not database_unavailable(error):
                    failures += 1
                    if failures < HANDLER_TRIES:
                        continue
                    self._drop(update, "handler_error", f"failed {failures} times; skipped", error)
                    return Outcome.DROPPED
                pause = self._pause(update, error, pauses, waited)
                if pause is None:
                    return Outcome.AGAIN if self._sends_again else Outcome.UNSTORED
                await asyncio.sleep(pause)
                pauses, waited = pauses + 1, waited + pause
            else:
                return Outcome.HANDLED

    def _pause(
        self, update: UpdateRef, error: BaseException, pauses: int, waited: float
    ) -> float | None:
        """How long to wait before trying a temporary failure again here; None: not here."""
        if self._sends_again:
            self._log(update, "could not be stored; left unacknowledged, to come again", error)
            return None
        if waited >= self._patience_s:
            told = f"could not be stored within {waited:g} s; the poster is told"
            self._drop(update, "unstored", told, error)
            return None
        pause = min(self._backoff.delay(pauses + 1), self._patience_s - waited)
        self._log(update, f"could not be stored; trying again in {pause:g} s", error)
        return pause

    def _drop(self, update: UpdateRef, reason: str, what: str, error: BaseException) -> None:
        self._log(update, what, error)
        self._monitor.update_dropped(self._platform, reason)

    def _log(self, update: UpdateRef, what: str, error: BaseException) -> None:
        """One WARNING line: platform, update, what became of it, the error's type; the
        traceback too, in the same record, only at DEBUG."""
        debug = log.isEnabledFor(logging.DEBUG)
        log.warning(
            "%s: %s %s (%s)",
            self._platform,
            update,
            what,
            type(error).__name__,
            exc_info=error if debug else None,
        )

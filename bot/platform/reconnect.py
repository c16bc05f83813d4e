"""How a platform tries again to reach its service: one policy for every adapter.

A network error (DNS, a refused connection, a timeout) at start or while serving
passes: the adapter waits and tries again, forever, one WARNING line per failed
try, so a bot started before the network is up (a container, a boot) simply
connects once it is. What counts as such an error is the adapter's to say (its
SDK's exception types); how long to wait and what to log is said here, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.ops.network import network_problem

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    """The waits between tries: ``first_s``, then doubling, never more than ``most_s``."""

    first_s: float = 1.0
    most_s: float = 30.0
    """A returning network is noticed within this long; short enough for an operator's wait."""

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` failed tries in a row (1 or more)."""
        return float(min(self.first_s * 2 ** max(failures - 1, 0), self.most_s))


class Reconnect:
    """One platform's tries to reach its service: growing waits, one line per failed try, and a
    count that starts over once a try succeeds."""

    def __init__(
        self, platform: str, backoff: Backoff, transient: Callable[[BaseException], bool]
    ) -> None:
        self._platform = platform
        self._backoff = backoff
        self.transient = transient
        """The adapter's word on an error: a network error that passes (True), or not."""
        self.failures = 0
        """Failed tries since the last success."""

    def succeeded(self) -> None:
        """A try worked: the next failure waits the shortest time again."""
        if self.failures:
            log.info("%s: connected after %d failed tries", self._platform, self.failures)
        self.failures = 0

    async def failed(self, error: BaseException, doing: str = "connecting") -> None:
        """Logs one line for a failed try (what failed, why, which try) and waits before the
        next; the caller has checked that ``error`` is ``transient``."""
        self.failures += 1
        delay = self._backoff.delay(self.failures)
        log.warning(
            "%s: %s failed (%s), try %d; trying again in %g s",
            self._platform,
            doing,
            network_problem(error),
            self.failures,
            delay,
        )
        await asyncio.sleep(delay)

    async def until_done(self, attempt: Callable[[], Awaitable[T]], doing: str = "connecting") -> T:
        """``attempt()``, tried again after each transient error; any other error is raised."""
        while True:
            try:
                result = await attempt()
            except Exception as error:
                if not self.transient(error):
                    raise
                await self.failed(error, doing)
                continue
            self.succeeded()
            return result

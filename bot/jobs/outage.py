"""The host as this process sees it: up, or down since when; and the wait for its return.

Every call to the host is reported here (``report``). A failure that passes (HostUnavailable:
no answer, a web page instead of the API, the flood limit) counts; anything the host really
answered (an upload, a refusal such as a rejected key) sets the count back to zero. After
``Tuning.host_down_after`` such failures in a row the host is down: the job runner waits for
it (``up``, ``up_by``) rather than sending, so that files do not use up their attempts on a
host that is away, and ``run`` asks it every ``Tuning.host_probe_s``, with one key-less call,
whether it is back. While it is down only those probes decide: an upload that was already on
its way says nothing new. When a probe finds the API, everyone waiting goes on, in the order
they began to wait. The admins hear once that the host is down, and once that it is back.

Each process watches for itself: its own count, its own probes, its own notices.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.chevereto import CheveretoClient
from bot.domain import Text
from bot.errors import HostError, HostUnavailable
from bot.ops.monitor import Monitor
from bot.texts import t
from bot.tuning import Tuning

log = logging.getLogger(__name__)

Notify = Callable[[Text], Awaitable[None]]
"""Tells the bot's admins one sentence (``bot.ops.admins.AdminNotices.tell``); never raises."""


class HostWatch:
    """Counts the host's failures, says when it is down, and probes it until it is back."""

    def __init__(
        self,
        client: CheveretoClient,
        monitor: Monitor,
        tuning: Tuning,
        *,
        patience: timedelta,
        site: str,
        notify: Notify,
    ) -> None:
        self._client = client
        self._monitor = monitor
        self._down_after = tuning.host_down_after
        self._probe_s = tuning.host_probe_s
        self.patience = patience
        """HOST_OUTAGE_PATIENCE: how long a file waits for a host that is down."""
        self._site = site
        self._notify = notify
        self._failures = 0
        self._down_since: datetime | None = None
        self._up = asyncio.Event()
        self._up.set()
        self._down = asyncio.Event()
        self._notices: asyncio.Queue[Text] = asyncio.Queue()
        monitor.host_up(True)

    @property
    def down_since(self) -> datetime | None:
        """When the host went down (UTC); None while it is up."""
        return self._down_since

    def report(self, error: BaseException | None) -> None:
        """What one call to the host came to: None when it answered with an upload, else the
        error. One that is not the host's (the platform's download, a bad file) says nothing."""
        if self._down_since is not None:
            return
        if isinstance(error, HostUnavailable):
            self._failures += 1
            if self._failures >= self._down_after:
                self._went_down(error)
        elif error is None or isinstance(error, HostError):
            self._failures = 0

    async def back(self) -> None:
        """Returns when the host comes back from its next outage (or its current one)."""
        await self._down.wait()
        await self._up.wait()

    async def up(self) -> None:
        """Returns once the host is up: at once while it is."""
        await self._up.wait()

    async def up_by(self, deadline: datetime) -> bool:
        """Waits for the host until ``deadline`` (UTC): True once it is up (at once while it is),
        False when the deadline came first."""
        if self._up.is_set():
            return True
        try:
            async with asyncio.timeout((deadline - datetime.now(UTC)).total_seconds()):
                await self._up.wait()
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """Probes the host while it is down, and tells the admins, until cancelled. The notices
        go beside the probes: a platform slow to take one never holds the host's return up."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._probing(), name="host probes")
            group.create_task(self._telling(), name="host notices")

    def _went_down(self, last: HostUnavailable) -> None:
        self._down_since = since = datetime.now(UTC)
        self._up.clear()
        self._down.set()
        self._monitor.host_up(False)
        log.warning(
            "the host failed %d times in a row (last: %s): uploads wait for it, up to %s; "
            "asking it every %s s whether it is back",
            self._failures,
            last,
            self.patience,
            self._probe_s,
        )
        patience = duration_text(self.patience)
        self._notices.put_nowait(
            t("outage.down", site=self._site, since=since.strftime("%H:%M"), patience=patience)
        )

    def _came_back(self) -> None:
        log.info("the host answers again (down since %s)", self._down_since)
        self._failures = 0
        self._down_since = None
        self._down.clear()
        self._up.set()  # waiters go on in the order they began to wait
        self._monitor.host_up(True)
        self._notices.put_nowait(t("outage.back", site=self._site))

    async def _probing(self) -> None:
        while True:
            await self._down.wait()
            await asyncio.sleep(self._probe_s)
            if await self._client.probe():
                self._came_back()

    async def _telling(self) -> None:
        while True:
            await self._notify(await self._notices.get())


def duration_text(length: timedelta) -> Text:
    """``1:00:00`` → "1 h"; a length that is not whole hours in minutes, else in seconds."""
    seconds = int(length.total_seconds())
    if seconds % 3600 == 0:
        return t("duration.hours", n=seconds // 3600)
    if seconds % 60 == 0:
        return t("duration.minutes", n=seconds // 60)
    return t("duration.seconds", n=seconds)

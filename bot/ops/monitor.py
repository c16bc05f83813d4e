"""What the bot counts: Prometheus metrics of this process, and file outcomes in the database so
that /stats sees every replica (a job writes its files' outcomes with its end, see
``JobQueue.finish``). Nothing counted names a user, a file or a link."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.errors import HostError
from bot.store import FileCount, Store

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0
"""How often old outcomes are dropped from the database."""
SECONDS_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)


def host_error_kind(error: HostError) -> str:
    """The error's short label for metrics and /stats (``HostError.kind``)."""
    return error.kind


class Monitor:
    """One per core: its own metrics registry (tests run several cores in one process)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.registry = CollectorRegistry()
        self._uploads = Counter(
            "chevereto_bot_uploads",
            "Files handled, by platform and outcome (uploaded, duplicate, failed).",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self._bytes = Counter(
            "chevereto_bot_upload_bytes",
            "Bytes uploaded to the host, by platform.",
            ["platform"],
            registry=self.registry,
        )
        self._seconds = Histogram(
            "chevereto_bot_upload_seconds",
            "From the platform's event to the answer, per job.",
            buckets=SECONDS_BUCKETS,
            registry=self.registry,
        )
        self._host_errors = Counter(
            "chevereto_bot_host_errors",
            "Errors the host gave or could not be reached with, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self._dropped = Counter(
            "chevereto_bot_updates_dropped",
            "Platform updates skipped, by platform and reason (unparsable, handler_error, "
            "unstored).",
            ["platform", "reason"],
            registry=self.registry,
        )
        self._waiting = Gauge(
            "chevereto_bot_jobs_waiting",
            "Jobs stored and not answered yet, across every replica.",
            registry=self.registry,
        )
        self._host_up = Gauge(
            "chevereto_bot_host_up",
            "1 while the host is taken as up; 0 while this process waits for it (it is down).",
            registry=self.registry,
        )
        self._host_up.set(1)
        self._pruned_at = time.monotonic()

    async def files_done(self, counts: Collection[FileCount]) -> None:
        """Finished files in this process's metrics; their outcomes are in the database already
        (written with the job's end). Old outcomes are dropped hourly; counting never fails
        a job."""
        for count in counts:
            self._uploads.labels(count.platform, count.outcome).inc()
            if count.size:
                self._bytes.labels(count.platform).inc(count.size)
        if time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
            self._pruned_at = time.monotonic()
            try:
                await self._store.outcomes.forget_old()
            except Exception:  # the database may be away; the next hour tries again
                log.warning("could not drop old outcomes", exc_info=True)

    async def host_error(self, error: HostError) -> None:
        kind = host_error_kind(error)
        self._host_errors.labels(kind).inc()
        await self._store.outcomes.host_error(kind)

    def host_up(self, up: bool) -> None:
        """The host watch's word on the host (``bot.jobs.outage``)."""
        self._host_up.set(1 if up else 0)

    def update_dropped(self, platform: str, reason: str) -> None:
        """An update of ``platform`` was skipped unhandled (``bot.platform.updates``)."""
        self._dropped.labels(platform, reason).inc()

    def answered(self, seconds: float) -> None:
        """A job's answer went out ``seconds`` after its event."""
        self._seconds.observe(seconds)

    async def exposition(self) -> bytes:
        """The metrics in Prometheus' text format, the jobs gauge read from the database now."""
        self._waiting.set(await self._store.jobs.waiting())
        return generate_latest(self.registry)

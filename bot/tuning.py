"""The core's timings and limits, in one place: production's by default, shorter in tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

MAX_WAITING_JOBS = 20
"""Uploads one user may have waiting at once; past that, new ones are refused."""
MAX_ALBUM_ITEMS = 50


@dataclass(frozen=True, slots=True)
class Tuning:
    """How long the core waits, how often it tries, how much it takes in."""

    host_timeout: float = 60.0
    host_tries: int = 3
    """Tries of one upload call while the host is unavailable, ``host_backoff`` apart, doubling."""
    host_backoff: float = 0.5
    max_attempts: int = 3
    """Attempts of a job whose files failed in a way that passes, ``retry_delays`` apart."""
    retry_delays: tuple[float, ...] = (5.0, 30.0)
    lease: timedelta = timedelta(seconds=60)
    poll_s: float = 1.0
    album_window: timedelta = timedelta(seconds=1.5)
    """An album's job runs once no new item has joined it for this long."""
    max_waiting_jobs: int = MAX_WAITING_JOBS
    max_album_items: int = MAX_ALBUM_ITEMS

"""The core's timings and limits, in one place: production's by default, shorter in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.platform.reconnect import Backoff

MAX_WAITING_JOBS = 20
"""Uploads one user may have waiting at once; past that, new ones are refused."""
MAX_ALBUM_ITEMS = 50


@dataclass(frozen=True, slots=True)
class Tuning:
    """How long the core waits, how often it tries, how much it takes in.

    A host that is down for good gets its final answer well under 60 s after the
    first failure: the job waits ``retry_delays`` (5 + 15 s) and makes two more
    attempts, each cut at ``host_timeout`` (plus ``host_timeout_per_mb`` for the
    file's size) when the host hangs, in about a second when it refuses or fails.
    For a file of a few MB that is at most about 45 s.
    """

    host_timeout: float = 10.0
    """Seconds the host may stay silent to accept a connection or take the next chunk of a file;
    and, once a small file is sent, for its whole answer (one deadline, however it trickles)."""
    host_timeout_per_mb: float = 0.5
    """More seconds to answer per MB sent: the host processes what it received first."""
    link_timeout: float = 30.0
    """Seconds a linked file's server may stay silent (to connect: at most 10): then the link
    could not be reached, which the job tries again."""
    transfer_window_s: float = 30.0
    """A transfer moving fewer than MIN_TRANSFER_KBPS over any window this long (of the time its
    side is responsible for: not while it waits on the other side) is cut."""
    host_tries: int = 3
    """Tries of one call while the host refuses connections, ``host_backoff`` apart, doubling.
    Any other failure is left to the job's next attempt, which the user hears about."""
    host_backoff: float = 0.5
    host_down_after: int = 5
    """Failures that pass in a row, with no answer from the host between them, after which the
    host is taken as down: files wait for it (HOST_OUTAGE_PATIENCE) instead of using up their
    attempts, and nothing is sent to it until a probe finds it back."""
    host_probe_s: float = 30.0
    """While the host is down, how often one key-less call asks whether it is back."""
    max_attempts: int = 3
    """Attempts of a job whose files failed in a way that passes, ``retry_delays`` apart."""
    retry_delays: tuple[float, ...] = (5.0, 15.0)
    lease: timedelta = timedelta(seconds=60)
    """A running job whose lease ran out is taken over, whatever its worker's state."""
    heartbeat: timedelta = timedelta(seconds=2)
    """How often a running job's lease is renewed (and its worker shown alive)."""
    takeover_after: timedelta = timedelta(seconds=5)
    """On PostgreSQL, a running job whose worker's liveness lock is gone and which has not
    been renewed for this long is taken over: its worker died. Several heartbeats long."""
    lock_settle: timedelta = timedelta(seconds=5)
    """After a database restart (every lock dropped at once) live workers get this long to
    take their locks again before any worker takes jobs over by the lock rule."""
    lock_check_s: float = 1.0
    """How often a worker checks that its liveness lock's connection still lives."""
    poll_s: float = 1.0
    status_after_s: float = 2.0
    """A job done sooner shows no status message: its answer comes before one would help."""
    progress_every_s: float = 2.0
    """How often a running job's status message may change (its percentage, what it waits for)."""
    backfill_progress_s: float = 10.0
    """How often a backfill's progress message may change."""
    album_window: timedelta = timedelta(seconds=1.5)
    """An album's job runs once no new item has joined it for this long."""
    max_waiting_jobs: int = MAX_WAITING_JOBS
    max_album_items: int = MAX_ALBUM_ITEMS
    reconnect: Backoff = field(default_factory=Backoff)
    """Waits between a platform's tries to reach its service (at start, or once it is lost)."""
    unstored_patience_s: float = 60.0
    """On a platform that never sends an event again, how long an event whose job could not
    be stored (the database away) is tried again in place, ``reconnect``'s waits apart,
    before the poster is asked to send it again later."""

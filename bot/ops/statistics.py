"""/stats as a sentence: what the store counted, with sizes people read."""

from __future__ import annotations

from datetime import datetime

from bot.domain import Outcome, Text
from bot.store.stats import Period, Stats
from bot.texts import t

WHEN = "%Y-%m-%d %H:%M"


def stats_text(stats: Stats, waiting: int, host_down_since: datetime | None) -> Text:
    """The numbers, and the host as this process sees it: up, or down since when."""
    error = stats.last_host_error
    shown_error = (
        t("stats.no_error")
        if error is None
        else t("stats.error", kind=error[0], when=error[1].strftime(WHEN))
    )
    host = (
        t("stats.host_up")
        if host_down_since is None
        else t("stats.host_down", since=host_down_since.strftime(WHEN))
    )
    return t(
        "stats",
        today=_period(stats.today),
        week=_period(stats.week),
        linked=stats.linked_users,
        waiting=waiting,
        error=shown_error,
        host=host,
    )


def _period(period: Period) -> Text:
    counts = period.outcomes
    return t(
        "stats.period",
        uploaded=counts.get(Outcome.UPLOADED.value, 0),
        duplicate=counts.get(Outcome.DUPLICATE.value, 0),
        failed=counts.get(Outcome.FAILED.value, 0),
        size=_size(period.bytes),
    )


def _size(count: int) -> str:
    """``12582912`` → ``12.0 MB``."""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"

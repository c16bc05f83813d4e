"""Reading a core's Prometheus metrics in tests."""

from __future__ import annotations

from bot.ops.monitor import Monitor


def dropped(monitor: Monitor, platform: str, reason: str) -> float:
    """``chevereto_bot_updates_dropped_total{platform,reason}``; 0 before the first."""
    labels = {"platform": platform, "reason": reason}
    value = monitor.registry.get_sample_value("chevereto_bot_updates_dropped_total", labels)
    return value or 0.0

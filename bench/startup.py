"""Start-up: from spawning ``python -m bot`` to its first getUpdates reaching the fake Telegram.

Two kinds of start, 5 of each, median reported:
- first start: an empty DATA_DIR, so the bot generates nothing (SECRET_KEY is set) but
  creates the SQLite database and runs every migration;
- restart: the same DATA_DIR again, the database already at the newest revision.
Before its first getUpdates the bot imports its modules, opens the store, calls getMe,
sets its command menu (two setMyCommands) and deleteWebhook. Goal: < 2 s (median).

Run: ``python -m bench.startup``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/startup.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BotRun, Row, Stage, machine, median, ms, stage, table, wait_ready

RUNS = 5
GOAL_S = 2.0


async def start_once(s: Stage, data_dir: Path) -> float:
    """Spawns the bot, waits for its first getUpdates, stops it; the seconds in between."""
    s.telegram.calls.clear()
    s.telegram.poll_times.clear()
    async with BotRun(s.env(data_dir), s.root / "bot") as bot:
        ready = await wait_ready(s.telegram)
        return ready - bot.spawned_at


async def measure() -> tuple[list[float], list[float]]:
    """Alternates first starts (a new DATA_DIR each) and restarts (one DATA_DIR)."""
    first: list[float] = []
    again: list[float] = []
    async with stage() as s:
        await start_once(s, s.root / "kept")  # creates the kept DATA_DIR, not counted
        for run in range(RUNS):
            first.append(await start_once(s, s.root / f"fresh-{run}"))
            again.append(await start_once(s, s.root / "kept"))
    return first, again


def rows(first: list[float], again: list[float]) -> list[Row]:
    out = []
    for name, times in (("first start (new database)", first), ("restart", again)):
        value = median(times)
        out += [
            Row(f"{name}: min … max", f"{ms(min(times))} … {ms(max(times))}"),
            Row(
                f"{name}: spawn → first getUpdates (median of {RUNS})",
                ms(value),
                f"< {GOAL_S:.0f} s",
                value < GOAL_S,
            ),
        ]
    return out


def main() -> None:
    first, again = asyncio.run(measure())
    print(f"## start-up: python -m bot until its first getUpdates\n\n{machine()}\n")
    print(table(rows(first, again)))


if __name__ == "__main__":
    main()

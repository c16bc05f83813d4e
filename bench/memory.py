"""Memory: peak RSS of ``python -m bot`` while it handles one video, 10 MB and 1 GB.

Telegram local mode, as with a self-hosted Bot API server: TELEGRAM_LOCAL_MODE=true,
MAX_UPLOAD_MB=2000, and the fake answers getFile with an absolute path
(``local_file_paths``), which the adapter reads in chunks through the same pipe as any
download: into the upload to the fake Chevereto (``max_size_mb`` 2000) and the job's spool
file at once. The video is an MP4 'ftyp' header then
zeros, written to disk in chunks. Each size runs in a fresh bot process; the peak is the
kernel's high-water mark (VmHWM in /proc/<pid>/status) read once the answer is in, and
VmRSS is also sampled every 20 ms while the video goes through.
Goal: peak <= 150 MB, and the 1 GB peak within 10 MB of the 10 MB one.

Run: ``python -m bench.memory``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/memory.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    MB,
    BotRun,
    Row,
    RssSampler,
    Stage,
    machine,
    mib,
    stage,
    status_kib,
    table,
    wait_ready,
    write_mp4,
)

SIZES = (("10 MB", 10 * MB), ("1 GB", 1024 * MB))
GOAL_PEAK_KIB = 150 * 1024
GOAL_GROWTH_KIB = 10 * 1024
USER = 1001
SETTLE_S = 1.0
"""Pause after start-up, so the idle figure is taken once the bot is quiet."""


@dataclass(frozen=True, slots=True)
class Figures:
    """RSS of one bot process: at rest after start, sampled peak, kernel peak; the seconds."""

    idle_kib: int
    sampled_kib: int
    peak_kib: int
    seconds: float


def local_env(s: Stage) -> dict[str, str]:
    s.telegram.local_mode = True
    s.telegram.local_file_paths = True
    s.chevereto.max_size_mb = 2000
    return s.env(s.root / "data", TELEGRAM_LOCAL_MODE="true", MAX_UPLOAD_MB="2000")


async def send_video(s: Stage, video: Path) -> float:
    """Posts the video in a private chat; the seconds until the delete-link message."""
    ref = s.telegram.add_file_path(video, mime_type="video/mp4")
    user = s.telegram.user(USER)
    start = time.perf_counter()
    s.telegram.push_update(
        s.telegram.message_update(s.telegram.private_chat(user), user, video=ref)
    )
    answer = await s.telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=170)
    return float(answer["at"]) - start


async def one(size: int) -> Figures:
    """One fresh bot process handles one video of ``size`` bytes."""
    async with stage() as s:
        video = await asyncio.to_thread(write_mp4, s.root / "video.mp4", size)
        async with BotRun(local_env(s), s.root / "bot") as bot:
            await wait_ready(s.telegram)
            await asyncio.sleep(SETTLE_S)
            idle = status_kib(bot.pid, "VmRSS")
            async with RssSampler(bot.pid) as sampler:
                seconds = await send_video(s, video)
            peak = status_kib(bot.pid, "VmHWM")
        if len(s.chevereto.images) != 1:
            raise RuntimeError(f"expected one upload, the host has {len(s.chevereto.images)}")
    return Figures(idle, sampler.peak, peak, seconds)


def rows(figures: dict[str, Figures]) -> list[Row]:
    out: list[Row] = []
    for name, f in figures.items():
        out += [
            Row(f"{name}: RSS at rest after start", mib(f.idle_kib)),
            Row(f"{name}: RSS sampled every 20 ms, highest", mib(f.sampled_kib)),
            Row(f"{name}: update → delete link", f"{f.seconds:.1f} s"),
            Row(
                f"{name}: peak RSS (VmHWM)",
                mib(f.peak_kib),
                f"≤ {mib(GOAL_PEAK_KIB)}",
                f.peak_kib <= GOAL_PEAK_KIB,
            ),
        ]
    small, large = (figures[name].peak_kib for name, _ in SIZES)
    growth = large - small
    out.append(
        Row(
            "peak growth, 1 GB against 10 MB",
            mib(growth),
            f"≤ {mib(GOAL_GROWTH_KIB)}",
            growth <= GOAL_GROWTH_KIB,
        )
    )
    return out


async def measure() -> dict[str, Figures]:
    return {name: await one(size) for name, size in SIZES}


def main() -> None:
    figures = asyncio.run(measure())
    print(f"## memory: one video in Telegram local mode, a fresh bot per size\n\n{machine()}\n")
    print(table(rows(figures)))


if __name__ == "__main__":
    main()

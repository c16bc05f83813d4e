"""Overlap: one 16 MB video when the download and the upload each run at 20 MB/s.

On a real network the platform's file server and the host are each slower than loopback,
and about as slow as each other. The fakes play that here: the fake Telegram serves file
downloads at 20 MB/s and the fake Chevereto reads uploads at 20 MB/s (their ``bandwidth``).

- bot: from ``push_update`` of a private video to the bot's answer (the one message with
  the viewer URL and the delete link). The bot pipes the download into the upload, so the
  two run at once.
- direct: the baseline client of ``bench.direct``: download the whole file, then upload it.

A transfer that waits for nothing takes about 0.8 s each way, so download-then-upload
takes about 1.6 s and a perfect pipe about 0.8 s (a ratio of about 0.5). The runs
alternate in pairs after one warm-up pair; the figures are medians of 7.
Goal: median bot / median direct <= 0.65.

Run: ``python -m bench.overlap``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as ``python bench/overlap.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    MB,
    BotRun,
    Row,
    Stage,
    machine,
    median,
    ms,
    stage,
    table,
    wait_ready,
    write_mp4,
)
from bench.direct import Direct
from tests.support.fakes.telegram_api import FileRef

RUNS = 7
WARM_UP = 1
SIZE = 16 * MB
BANDWIDTH = 20.0 * MB
GOAL = 0.65
USER = 1001
SETTLE_S = 0.3


async def through_bot(s: Stage, ref: FileRef) -> float:
    """One video from update to answer: the seconds."""
    user = s.telegram.user(USER)
    update = s.telegram.message_update(s.telegram.private_chat(user), user, video=ref)
    before = len(s.telegram.sent)
    viewer = f"{s.chevereto.url}/image/"

    def answered(message: dict[str, Any]) -> bool:
        return s.telegram.sent.index(message) >= before and viewer in str(message["text"] or "")

    start = time.perf_counter()
    s.telegram.push_update(update)
    answer = await s.telegram.wait_for(answered, timeout=60)
    await asyncio.sleep(SETTLE_S)
    return float(answer["at"]) - start


async def measure() -> list[tuple[float, float]]:
    """Pairs of (bot, direct) seconds, which of the two goes first alternating."""
    pairs: list[tuple[float, float]] = []
    async with stage(admin_key=True, bandwidth=BANDWIDTH) as s:  # the same bytes every time
        s.chevereto.max_size_mb = 100
        video = write_mp4(s.root / "video.mp4", SIZE)
        ref = s.telegram.add_file_path(video, mime_type="video/mp4")
        direct = await Direct.start(s)
        try:
            async with BotRun(s.env(s.root / "data"), s.root / "bot"):
                await wait_ready(s.telegram)
                for run in range(WARM_UP + RUNS):
                    if run % 2:
                        bot = await through_bot(s, ref)
                        plain = await direct.once(ref.file_id, "video.mp4", "video/mp4")
                    else:
                        plain = await direct.once(ref.file_id, "video.mp4", "video/mp4")
                        bot = await through_bot(s, ref)
                    if run >= WARM_UP:
                        pairs.append((bot, plain.wall))
        finally:
            await direct.close()
    return pairs


def rows(pairs: list[tuple[float, float]]) -> list[Row]:
    bots, directs = [b for b, _ in pairs], [d for _, d in pairs]
    bot, direct = median(bots), median(directs)
    ratio = bot / direct
    one_way = SIZE / BANDWIDTH
    return [
        Row(f"one way at {BANDWIDTH / MB:.0f} MB/s (computed)", ms(one_way)),
        Row("bot: update → answer (median)", ms(bot)),
        Row("direct: download, then upload (median)", ms(direct)),
        Row("bot, min … max", f"{ms(min(bots))} … {ms(max(bots))}"),
        Row("direct, min … max", f"{ms(min(directs))} … {ms(max(directs))}"),
        Row(
            "paired ratio (median of bot / direct per pair)",
            f"{median(b / d for b, d in pairs):.2f}",
        ),
        Row("ratio bot / direct (medians)", f"{ratio:.2f}", f"≤ {GOAL:.2f}", ratio <= GOAL),
    ]


def main() -> None:
    pairs = asyncio.run(measure())
    print(
        f"## overlap: one {SIZE // MB} MB video, both links at {BANDWIDTH / MB:.0f} MB/s, "
        f"median of {RUNS}\n\n{machine()}\n"
    )
    print(table(rows(pairs)))


if __name__ == "__main__":
    main()

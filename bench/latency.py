"""Latency: one 5 MB photo through the bot, against the same transfer done directly with httpx.

- bot: from ``push_update`` on the fake Telegram to the bot's answer that shows the viewer
  URL (stamped when the fake receives it). In between, ``python -m bot`` long-polls the
  update, stores the job (running at once), runs it (getFile, then the download piped into
  the multipart upload to the fake Chevereto as it arrives), records the upload and
  answers with one message (links and delete link).
- direct: the baseline client of ``bench.direct`` (getFile, download to a temp file, then
  upload it, on a warm connection); timed from before getFile to the parsed answer.

Both clients run in their own process, so each has the second core while the fakes serve
it. The runs alternate in pairs, after two warm-up pairs; the figures are medians of 50.
Goals: median bot / median direct <= 1.25, and the bot's CPU time over the 50 photos
<= 1.5 x the direct client's.
The paired ratio (each bot run against the direct run next to it) and the CPU time of
each side say the same with less noise when other processes share the machine.

Run: ``python -m bench.latency``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as ``python bench/latency.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    MB,
    BotRun,
    Row,
    Stage,
    cpu_seconds,
    machine,
    median,
    ms,
    png_bytes,
    stage,
    table,
    wait_ready,
)
from bench.direct import Direct, Sample
from tests.support.fakes.telegram_api import FileRef

RUNS = 50
WARM_UP = 2
SIZE = 5 * MB
GOAL = 1.25
CPU_GOAL = 1.5
USER = 1001
SETTLE_S = 0.2
"""Pause after each bot run, so the job's last database write is not in the next run."""


# --- the bot ----------------------------------------------------------------------------


async def through_bot(s: Stage, ref: FileRef, pid: int) -> Sample:
    """One photo from update to answer: in a private chat that is one message, the links
    with the delete link. The CPU figure covers the whole job, up to a moment after the
    answer (its last database write)."""
    update, _ = s.private_photo(USER, ref)
    before = len(s.telegram.sent)
    viewer = f"{s.chevereto.url}/image/"

    def answered(message: dict[str, Any]) -> bool:
        return s.telegram.sent.index(message) >= before and viewer in str(message["text"] or "")

    cpu = cpu_seconds(pid)
    start = time.perf_counter()
    s.telegram.push_update(update)
    answer = await s.telegram.wait_for(answered, timeout=60)
    await asyncio.sleep(SETTLE_S)
    return Sample(float(answer["at"]) - start, cpu_seconds(pid) - cpu)


async def measure() -> list[tuple[Sample, Sample]]:
    """Pairs of (bot, direct) runs, which of the two goes first alternating."""
    pairs: list[tuple[Sample, Sample]] = []
    async with stage(admin_key=True) as s:  # an admin key: the same bytes every time
        ref = s.telegram.add_file(png_bytes(SIZE), mime_type="image/png")
        direct = await Direct.start(s)
        try:
            async with BotRun(s.env(s.root / "data"), s.root / "bot") as bot:
                await wait_ready(s.telegram)
                for run in range(WARM_UP + RUNS):
                    if run % 2:
                        bot_sample = await through_bot(s, ref, bot.pid)
                        direct_sample = await direct.once(ref.file_id)
                    else:
                        direct_sample = await direct.once(ref.file_id)
                        bot_sample = await through_bot(s, ref, bot.pid)
                    if run >= WARM_UP:
                        pairs.append((bot_sample, direct_sample))
        finally:
            await direct.close()
    return pairs


def rows(pairs: list[tuple[Sample, Sample]]) -> list[Row]:
    bot_walls = [b.wall for b, _ in pairs]
    direct_walls = [d.wall for _, d in pairs]
    bot, direct = median(bot_walls), median(direct_walls)
    ratio = bot / direct
    cpu_ratio = sum(b.cpu for b, _ in pairs) / sum(d.cpu for _, d in pairs)
    return [
        Row("bot: update → answer (median)", ms(bot)),
        Row("direct: getFile + download + upload (median)", ms(direct)),
        Row("bot, min … max", f"{ms(min(bot_walls))} … {ms(max(bot_walls))}"),
        Row("direct, min … max", f"{ms(min(direct_walls))} … {ms(max(direct_walls))}"),
        Row("bot overhead (difference of medians)", ms(bot - direct)),
        Row("paired ratio (median of bot / direct per pair)", f"{_paired(pairs):.2f}"),
        Row("bot CPU per photo, whole job (median)", ms(median(b.cpu for b, _ in pairs))),
        Row("direct CPU per transfer (median)", ms(median(d.cpu for _, d in pairs))),
        Row("ratio bot / direct (medians)", f"{ratio:.2f}", f"≤ {GOAL:.2f}", ratio <= GOAL),
        Row(
            f"CPU ratio bot / direct (sums over {RUNS} photos)",
            f"{cpu_ratio:.2f}",
            f"≤ {CPU_GOAL:.2f}",
            cpu_ratio <= CPU_GOAL,
        ),
    ]


def _paired(pairs: list[tuple[Sample, Sample]]) -> float:
    return median(b.wall / d.wall for b, d in pairs)


def main() -> None:
    pairs = asyncio.run(measure())
    print(f"## latency: one {SIZE // MB} MB photo, median of {RUNS}\n\n{machine()}\n")
    print(table(rows(pairs)))


if __name__ == "__main__":
    main()

"""Latency: one 5 MB photo through the bot, against the same transfer done directly with httpx.

- bot: from ``push_update`` on the fake Telegram to the bot's answer that shows the viewer
  URL (stamped when the fake receives it). In between, ``python -m bot`` long-polls the
  update, stores a job, runs it (getFile, download to a temp file, multipart upload to
  the fake Chevereto), records the upload and answers.
- direct: getFile, a streamed download of the same bytes from the fake Telegram file URL
  to a temp file, then a multipart upload of that file to the fake Chevereto, with one
  persistent ``httpx.AsyncClient``; timed from before getFile to the parsed answer.

Both clients run in their own process (the direct one is this module with ``--worker``),
so each has the second core while the fakes serve it. The runs alternate in pairs, after
two warm-up pairs; the figures are medians of 20. Goal: median bot / median direct <= 1.10.
The paired ratio (each bot run against the direct run next to it) and the CPU time of
each side say the same with less noise when other processes share the machine.

Run: ``python -m bench.latency``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as ``python bench/latency.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.common import (
    KEY,
    MB,
    TOKEN,
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
from tests.support.fakes.telegram_api import FileRef

REPO = Path(__file__).resolve().parents[1]
RUNS = 20
WARM_UP = 2
SIZE = 5 * MB
GOAL = 1.10
CHUNK = 256 * 1024
USER = 1001
SETTLE_S = 0.2
"""Pause after each bot run, so the job's last database write is not in the next run."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One run: wall-clock seconds, and CPU seconds the client process used."""

    wall: float
    cpu: float


# --- the direct client (its own process) ------------------------------------------------


async def transfer(http: httpx.AsyncClient, api: str, files: str, site: str, file_id: str) -> float:
    """getFile, download to a temp file, multipart upload; the seconds it took."""
    with tempfile.TemporaryDirectory(prefix="bench-direct-") as tmp:
        target = Path(tmp) / "photo.part"
        start = time.perf_counter()
        got = await http.post(f"{api}{TOKEN}/getFile", data={"file_id": file_id})
        file_path = got.json()["result"]["file_path"]
        async with http.stream("GET", f"{files}{TOKEN}/{file_path}") as response:
            with target.open("wb") as out:  # written as the bot's adapter does
                async for chunk in response.aiter_bytes(CHUNK):
                    out.write(chunk)
        with target.open("rb") as source:  # httpx reads it in chunks
            answer = await http.post(
                f"{site}/api/1/upload",
                headers={"X-API-Key": KEY},
                data={"format": "json"},
                files={"source": ("photo.png", source, "image/png")},
            )
        elapsed = time.perf_counter() - start
    if answer.status_code != 200 or "image" not in answer.json():
        raise RuntimeError(f"direct upload failed: HTTP {answer.status_code}")
    return elapsed


async def worker(api: str, files: str, site: str) -> None:
    """Reads one file id per stdin line; answers ``wall cpu`` seconds of its transfer."""
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(timeout=60.0) as http:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            cpu = time.process_time()
            wall = await transfer(http, api, files, site, line.strip())
            print(f"{wall:.6f} {time.process_time() - cpu:.6f}", flush=True)


class Direct:
    """The direct client's process, asked for one transfer at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(cls, s: Stage) -> Direct:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.latency",
            "--worker",
            s.telegram.api_url,
            s.telegram.file_url,
            s.chevereto.url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
        )
        return cls(process)

    async def once(self, file_id: str) -> Sample:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(f"{file_id}\n".encode())
        await self._process.stdin.drain()
        wall, cpu = (await asyncio.wait_for(self._process.stdout.readline(), 60)).split()
        return Sample(float(wall), float(cpu))

    async def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        await self._process.wait()


# --- the bot ----------------------------------------------------------------------------


async def through_bot(s: Stage, ref: FileRef, pid: int) -> Sample:
    """One photo from update to answer. A file over 4 MB may first get an "Uploading… 0%"
    status message that the answer then edits: the answer is the first message of this
    run that shows the viewer URL. Waits for the delete-link message too, so the job is
    over before the next run; the CPU figure covers the whole job."""
    update, _ = s.private_photo(USER, ref)
    before = len(s.telegram.sent)
    viewer = f"{s.chevereto.url}/image/"

    def new(check: Callable[[str], bool]) -> Callable[[dict[str, Any]], bool]:
        return lambda m: s.telegram.sent.index(m) >= before and check(str(m["text"] or ""))

    cpu = cpu_seconds(pid)
    start = time.perf_counter()
    s.telegram.push_update(update)
    answer = await s.telegram.wait_for(
        new(lambda text: viewer in text and "/delete/" not in text), timeout=60
    )
    await s.telegram.wait_for(new(lambda text: "/delete/" in text), timeout=60)
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
    ]


def _paired(pairs: list[tuple[Sample, Sample]]) -> float:
    return median(b.wall / d.wall for b, d in pairs)


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        asyncio.run(worker(*sys.argv[2:5]))
        return
    pairs = asyncio.run(measure())
    print(f"## latency: one {SIZE // MB} MB photo, median of {RUNS}\n\n{machine()}\n")
    print(table(rows(pairs)))


if __name__ == "__main__":
    main()

"""What every benchmark shares: the fakes, ``python -m bot`` as a child process, RSS, the table.

The bot runs exactly as in production (``python -m bot``, its own process, its own
event loop); the fakes from ``tests/fakes`` run in the benchmark's process on
127.0.0.1. ``TimedTelegram`` stamps every message the bot sends and every
``getUpdates`` it makes with ``time.perf_counter()`` at the moment the fake
handles it, so a figure never includes the benchmark's own waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import statistics
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self

from tests.support.fakes.chevereto import FakeChevereto
from tests.support.fakes.telegram_api import TEST_TOKEN, FakeTelegram
from tests.support.process import CLEAN_ENV

JSON = dict[str, Any]
TOKEN = TEST_TOKEN
KEY = "chv_bench_" + "k" * 40
MB = 1024 * 1024
WRITE_CHUNK = 8 * MB


# --- the fakes --------------------------------------------------------------------------


class TimedTelegram(FakeTelegram):
    """The fake Bot API, with a ``perf_counter`` stamp on each sent message and getUpdates."""

    def __init__(self, bandwidth: float | None = None) -> None:
        super().__init__(token=TOKEN, bandwidth=bandwidth)
        self.poll_times: list[float] = []

    def _record(
        self, method: str, p: JSON, msg: JSON, markup: JSON | None, reply_to: int | None
    ) -> None:
        super()._record(method, p, msg, markup, reply_to)
        self.sent[-1]["at"] = time.perf_counter()

    async def _get_updates(self, p: JSON) -> list[JSON]:
        self.poll_times.append(time.perf_counter())
        return await super()._get_updates(p)

    def answers(self, site: str) -> dict[tuple[int, int], float]:
        """When each message got its answer (the one with the viewer URL, which in a private
        chat holds the delete link too), by (chat id, id of the message answered). A job that
        ran long enough to show a status message is answered by editing it."""
        viewer = f"{site}/image/"
        replied = {
            (m["chat_id"], m["message_id"]): m["reply_to"]
            for m in self.sent
            if m["method"] == "sendMessage" and m["reply_to"] is not None
        }
        answered: dict[tuple[int, int], float] = {}
        for m in self.sent:
            reply_to = replied.get((m["chat_id"], m["message_id"]))
            if reply_to is not None and viewer in (m["text"] or ""):
                answered.setdefault((m["chat_id"], reply_to), m["at"])
        return answered


@dataclass
class Stage:
    """The two fakes, a key the fake host knows, and a scratch folder for the run."""

    telegram: TimedTelegram
    chevereto: FakeChevereto
    root: Path

    def env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        """The environment of a bot pointed at the fakes; ``extra`` adds or overrides."""
        return {
            **CLEAN_ENV,
            "CHEVERETO_URL": self.chevereto.url,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": self.telegram.api_url,
            "TELEGRAM_FILE_URL": self.telegram.file_url,
            "DATA_DIR": str(data_dir),
            "DEFAULT_API_KEY": KEY,
            "SECRET_KEY": "bench-secret-key",
            "LOG_LEVEL": "WARNING",
            **extra,
        }

    def private_photo(self, user_id: int, ref: Any) -> tuple[JSON, int]:
        """An update: ``user_id`` sends the photo ``ref`` in its private chat with the bot.
        Also returns the message id, which the bot's answer replies to."""
        user = self.telegram.user(user_id)
        update = self.telegram.message_update(self.telegram.private_chat(user), user, photo=ref)
        return update, int(update["message"]["message_id"])


@contextlib.asynccontextmanager
async def stage(*, admin_key: bool = False, bandwidth: float | None = None) -> AsyncIterator[Stage]:
    """Starts both fakes on 127.0.0.1; ``admin_key`` lets the same bytes be uploaded twice;
    ``bandwidth`` (bytes per second) paces Telegram's file downloads and the host's reading of
    uploads alike."""
    with tempfile.TemporaryDirectory(prefix="chevereto-bench-") as tmp:
        telegram, chevereto = TimedTelegram(bandwidth), FakeChevereto(bandwidth=bandwidth)
        async with telegram, chevereto:
            chevereto.add_key(KEY, admin=admin_key)
            yield Stage(telegram, chevereto, Path(tmp))


# --- the bot process --------------------------------------------------------------------


@dataclass
class BotRun:
    """``python -m bot`` as a child process. Its stderr goes to a file, never to a pipe
    that nobody reads (a full pipe would stall the bot and the figures with it)."""

    env: dict[str, str]
    cwd: Path
    spawned_at: float = 0.0
    process: asyncio.subprocess.Process | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    async def __aenter__(self) -> Self:
        self.cwd.mkdir(parents=True, exist_ok=True)
        self._log = (self.cwd / "bot.log").open("wb")
        self.spawned_at = time.perf_counter()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=self.cwd,  # not the repository: a .env there must not leak into the figures
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=self._log,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def stop(self, within: float = 20.0) -> int:
        """SIGTERM and the exit code; SIGKILL if the bot has not stopped ``within`` seconds."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), within)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._log is not None:
            self._log.close()
        assert self.process.returncode is not None
        return self.process.returncode

    def log(self) -> str:
        return (self.cwd / "bot.log").read_text(errors="replace")


async def wait_ready(telegram: TimedTelegram, within: float = 60.0) -> float:
    """Waits for the bot's first getUpdates; the moment the fake received it."""
    await telegram.wait_for_call("getUpdates", timeout=within)
    return telegram.poll_times[0]


# --- memory -----------------------------------------------------------------------------


def status_kib(pid: int, name: str) -> int:
    """One ``kB`` field of ``/proc/<pid>/status``, such as VmRSS or VmHWM (the peak RSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise KeyError(name)


class RssSampler:
    """Samples VmRSS every ``every`` seconds in the background; ``peak`` is the largest seen."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self._pid, self._every = pid, every
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _sample(self) -> None:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            while True:
                self.peak = max(self.peak, status_kib(self._pid, "VmRSS"))
                await asyncio.sleep(self._every)


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User plus system CPU time the process (or one of its threads: the event loop's has the
    process's id) has used so far (``/proc/<pid>/stat``)."""
    where = f"/proc/{pid}" if thread is None else f"/proc/{pid}/task/{thread}"
    fields = Path(f"{where}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- media ------------------------------------------------------------------------------


def png_bytes(size: int) -> bytes:
    """``size`` bytes that start like a PNG (signature, IHDR) and are unique (a random nonce)."""
    header = struct.pack(">IIBBBBB", 1920, 1080, 8, 2, 0, 0, 0)
    ihdr = struct.pack(">I", len(header)) + b"IHDR" + header
    ihdr += struct.pack(">I", zlib.crc32(b"IHDR" + header))
    head = b"\x89PNG\r\n\x1a\n" + ihdr + secrets.token_bytes(16)
    return head + bytes(size - len(head))


def write_mp4(path: Path, size: int) -> Path:
    """A ``size``-byte file that starts like an MP4 ('ftyp' box), then zeros written in chunks."""
    head = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
    head += secrets.token_bytes(16)  # unique bytes, so the host never sees a duplicate
    zeros = bytes(WRITE_CHUNK)
    with path.open("wb") as out:
        out.write(head)
        remaining = size - len(head)
        while remaining > 0:
            remaining -= out.write(zeros[: min(WRITE_CHUNK, remaining)])
    return path


# --- figures ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a benchmark's table; ``met`` is None for a figure that has no goal."""

    metric: str
    value: str
    goal: str = ""
    met: bool | None = None


def table(rows: Iterable[Row]) -> str:
    """The rows as a Markdown table: metric, value, goal, met?"""
    lines = ["| metric | value | goal | met? |", "|---|---|---|---|"]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(f"| {row.metric} | {row.value} | {row.goal} | {met} |")
    return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MB"


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def machine() -> str:
    """One line: cores and memory of this machine, for the head of a result."""
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, {pages / 1024**3:.0f} GB RAM, "
        f"Python {sys.version.split()[0]}, load average {load}"
    )

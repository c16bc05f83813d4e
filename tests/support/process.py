"""``python -m bot`` as a separate process, driven and watched from outside."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.leaks import process_log

CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(
        (
            "TELEGRAM_",
            "DISCORD_",
            "CHEVERETO_",
            "DEFAULT_API_KEY",
            "SECRET_KEY",
            "DATA_DIR",
            "DATABASE_URL",
            "MAX_UPLOAD_MB",
            "UPLOAD_CONCURRENCY",
            "LOG_",
            "ALLOWED_",
            "BOT_ADMINS",
            "SHARED_KEY_",
            "HEALTH_",
            "TESTCHAT_",
        )
    )
} | {"LOG_LEVEL": "DEBUG"}
"""The test run's environment without the bot's variables, but LOG_LEVEL=DEBUG: every bot a
test starts logs all it can, for the leak scan (``tests.support.leaks``) to read."""


async def run_bot(
    env: dict[str, str], cwd: Path, *, timeout: float = 20, python: str = sys.executable
) -> tuple[int, str]:
    """Runs the bot to its end (under ``python``); its exit code and everything on stderr."""
    process = await asyncio.create_subprocess_exec(
        python,
        "-m",
        "bot",
        cwd=cwd,
        env={**CLEAN_ENV, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(timeout):
        _, err = await process.communicate()
    assert process.returncode is not None
    process_log(err.decode())
    return process.returncode, err.decode()


class BotProcess:
    """A running ``python -m bot`` whose stderr is collected, stopped with SIGTERM."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self._env, self._cwd = env, cwd
        self.stderr = ""
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> BotProcess:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=self._cwd,
            env={**CLEAN_ENV, **self._env},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return self

    async def line(self, matches: Callable[[str], bool], *, within: float = 20) -> str:
        """Reads stderr as the bot writes it until a line ``matches``, and returns that line;
        every line read is kept in ``stderr``. Fails at the end of stderr or after ``within``."""
        assert self.process is not None
        assert self.process.stderr is not None
        async with asyncio.timeout(within):
            while raw := await self.process.stderr.readline():
                line = raw.decode()
                self.stderr += line
                if matches(line):
                    return line
        raise AssertionError(f"the bot ended without such a line:\n{self.stderr}")

    async def stop(self, *, within: float = 15) -> int:
        """SIGTERM, then the exit code; fails if the bot does not stop in time."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(within):
            _, err = await self.process.communicate()
        self.stderr += err.decode()
        assert self.process.returncode is not None
        return self.process.returncode

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        process_log(self.stderr)

"""What the scale-out tests need: `python -m bot` replicas, and one address in front of them.

A replica writes its log to a file (a pipe nobody reads could fill and stall it).
The proxy is the smallest load balancer there is: each POST goes to the next
replica in turn, and its answer goes back unchanged, so Telegram's retry on a
non-2xx answer sends the update to the other replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from tests.support.process import CLEAN_ENV

ROOT = Path(__file__).resolve().parents[2]
FORWARDED_HEADERS = ("Content-Type", "X-Telegram-Bot-Api-Secret-Token")


def free_ports(count: int) -> list[int]:
    """TCP ports on 127.0.0.1 that nothing listens on right now, all different."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


class Replica:
    """One ``python -m bot`` process of this checkout: DATA_DIR ``<folder>/<name>``, its log
    ``<folder>/<name>.log``."""

    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.data_dir = folder / name
        self.log_path = folder / f"{name}.log"
        self._env = {**CLEAN_ENV, "PYTHONPATH": str(ROOT), **env, "DATA_DIR": str(self.data_dir)}
        self._folder = folder
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Self:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                cwd=self._folder,
                env=self._env,
                stdout=log,
                stderr=log,
            )
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        """Fails with the replica's log when it has exited."""
        assert self.process is not None
        if self.process.returncode is not None:
            raise AssertionError(
                f"{self.name} exited with {self.process.returncode}:\n{self.log[-3000:]}"
            )

    async def stop(self, *, within: float = 15) -> int:
        """SIGTERM, then the exit code; fails if the replica does not stop in time."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), within)


async def until(
    check: Callable[[], bool], replicas: Sequence[Replica], *, within: float, what: str
) -> None:
    """Waits for ``check()``, failing at once with its log if a replica dies meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        for replica in replicas:
            replica.check_alive()
        if loop.time() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)


@dataclass(frozen=True, slots=True)
class Forwarded:
    """One POST the proxy passed on: to which backend, the status it got, the update's id."""

    backend: int
    status: int
    update_id: int | None


class RoundRobinProxy:
    """``async with RoundRobinProxy([url_a, url_b]) as proxy:``; POST to ``proxy.url + path``."""

    def __init__(self, backends: Sequence[str]) -> None:
        self._backends = list(backends)
        self._turn = itertools.count()
        self.forwarded: list[Forwarded] = []
        self.url = ""
        self._session: ClientSession | None = None
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Self:
        self._session = ClientSession(timeout=ClientTimeout(total=30))
        app = web.Application()
        app.router.add_post("/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def answered_by(self, backend: int) -> list[int]:
        """The update ids this backend answered with a 2xx."""
        return [
            f.update_id
            for f in self.forwarded
            if f.backend == backend and 200 <= f.status < 300 and f.update_id is not None
        ]

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        backend = next(self._turn) % len(self._backends)
        body = await request.read()
        headers = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
        try:
            async with self._session.post(
                self._backends[backend] + request.path_qs, data=body, headers=headers
            ) as answer:
                status, payload = answer.status, await answer.read()
        except (ClientError, TimeoutError):
            status, payload = 502, b""
        self.forwarded.append(Forwarded(backend, status, _update_id(body)))
        return web.Response(status=status, body=payload)


def _update_id(body: bytes) -> int | None:
    with contextlib.suppress(ValueError, AttributeError):
        value = json.loads(body).get("update_id")
        return value if isinstance(value, int) else None
    return None

"""The ``docker`` command line, driven from a test: containers started, watched and removed.

Every container runs with ``--network host``, never on Docker's bridge (whose addresses are a
private range): the bot in it reaches the fakes on 127.0.0.1 as a process on the host does.
Each one carries ``LABEL``: ``docker ps --filter label=chevereto-bot-test`` finds what an
interrupted test left behind.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LABEL = "chevereto-bot-test"
UID = 10001
"""The image's user, who must own a folder bind-mounted on /data."""


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


async def docker(*args: str, timeout: float = 120) -> Ran:
    """``docker ARGS`` to its end: its exit code, stdout and stderr."""
    return await command("docker", *args, timeout=timeout)


async def command(*argv: str, timeout: float = 120, cwd: Path | None = None) -> Ran:
    """``argv`` to its end: its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


async def checked(*args: str, timeout: float = 120) -> str:
    """``docker ARGS``, which must succeed; its stdout."""
    ran = await docker(*args, timeout=timeout)
    assert ran.code == 0, f"docker {' '.join(args[:2])} failed ({ran.code}): {ran.err}"
    return ran.out


def environment(env: dict[str, str]) -> list[str]:
    """``-e NAME=VALUE`` for each variable: the container sees these and the image's own."""
    return [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]


def run_args(image: str, env: dict[str, str], *options: str) -> list[str]:
    """``run`` on the host's network, labelled, with ``env``; ``options`` go before the image."""
    return ["run", "--network", "host", "--label", LABEL, *options, *environment(env), image]


def new_name() -> str:
    return f"{LABEL}-{uuid.uuid4().hex[:10]}"


async def inspect(kind: str, name: str) -> dict[str, Any]:
    """``docker KIND inspect NAME`` (image, container, volume) as a dict."""
    (found,) = json.loads(await checked(kind, "inspect", name))
    assert isinstance(found, dict)
    return found


async def until_healthy(name: str, within: float = 30) -> dict[str, Any]:
    """Waits until Docker's health check says ``healthy``; the container's ``State.Health``."""
    deadline = time.monotonic() + within
    while True:
        health = (await inspect("container", name))["State"].get("Health") or {}
        if health.get("Status") == "healthy":
            return dict(health)
        if time.monotonic() > deadline:
            raise AssertionError(f"not healthy after {within} s: {health}")
        await asyncio.sleep(0.2)


def owners(folder: Path) -> dict[str, int]:
    """The uid owning each entry of a folder on the host (a bind mount, a volume)."""
    return {path.name: path.stat().st_uid for path in folder.iterdir()}


def process(pid: int) -> tuple[dict[str, str], list[str]]:
    """A container's process as the host's kernel sees it: /proc/PID/status, and its
    command line."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    status = {name: value.strip() for name, _, value in (line.partition(":") for line in lines)}
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return status, argv


def files(folder: Path) -> list[str]:
    """Every file under ``folder``, relative to it."""
    return [str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()]

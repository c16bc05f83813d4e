"""docker-compose.yml: its structure (always), Compose's own validation of it, and its ``bot``
service started from the image as Compose would start it (with the image, in CI).

No Compose engine runs here, so the service is started with ``docker run`` from what
``docker compose config`` (or Debian's ``docker-compose config``) resolves: its environment
with ``.env``, its named volume on /data, its health check. Only what points at Compose's own
network is changed: the database (PostgreSQL of this run instead of the ``postgres`` service),
the listen addresses (127.0.0.1, since the container shares the host's network) and the
platform and site URLs (the fakes).
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from bot.chevereto.probe import probe_png
from tests.conftest import KEY, POSTGRES_URL, _create_database, _drop_database
from tests.support.docker import (
    LABEL,
    UID,
    checked,
    command,
    docker,
    inspect,
    new_name,
    owners,
    run_args,
    until_healthy,
)
from tests.support.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "7301234567:AAH-compose-test-token-0123456789abcdef"


def compose_file() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def dockerfile_healthcheck() -> dict[str, Any]:
    """The Dockerfile's HEALTHCHECK in Compose's terms."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith("HEALTHCHECK ")]
    options = dict(re.findall(r"--([a-z-]+)=(\S+)", line))
    return {
        "test": ["CMD", *json.loads(line.partition(" CMD ")[2])],
        "interval": options["interval"],
        "timeout": options["timeout"],
        "start_period": options["start-period"],
        "retries": int(options["retries"]),
    }


def test_the_bots_start_as_the_image_says():
    """Both bot services: built from this folder, the image's health check, DATA_DIR and
    HEALTH_LISTEN as the image sets them, a named volume each on /data, ports on 127.0.0.1
    only; `bot` waits for a healthy PostgreSQL, `bot-2` (profile replicas) for a healthy
    `bot` too."""
    compose = compose_file()
    services = compose["services"]
    assert set(services) == {"postgres", "bot", "bot-2"}
    assert "healthcheck" in services["postgres"]
    for name in ("bot", "bot-2"):
        bot = services[name]
        assert (bot["build"], bot["image"]) == (".", "chevereto-bot")
        assert bot["healthcheck"] == dockerfile_healthcheck()
        assert bot["environment"]["DATA_DIR"] == "/data"
        assert bot["environment"]["HEALTH_LISTEN"] == "0.0.0.0:9464"
        assert bot["depends_on"]["postgres"] == {"condition": "service_healthy"}
        (volume,) = bot["volumes"]
        source, target = volume.split(":")
        assert target == "/data"
        assert source in compose["volumes"]
        assert all(port.startswith("127.0.0.1:") for port in bot["ports"])
    assert "profiles" not in services["bot"]
    assert services["bot-2"]["profiles"] == ["replicas"]
    assert services["bot-2"]["depends_on"]["bot"] == {"condition": "service_healthy"}


async def compose_config(folder: Path, *args: str) -> dict[str, Any]:
    """``config`` of docker-compose.yml with ``.env`` made from .env.example, as the README's
    first steps make it; Compose validates the file against its schema on the way."""
    shutil.copy(ROOT / "docker-compose.yml", folder / "docker-compose.yml")
    example = (ROOT / ".env.example").read_text()
    (folder / ".env").write_text(example + "POSTGRES_PASSWORD=composetest1\n")
    if (await docker("compose", "version")).code == 0:
        compose = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        compose = ["docker-compose"]
    else:
        raise AssertionError("no Compose: install the compose plugin or Debian's docker-compose")
    ran = await command(*compose, *args, "config", cwd=folder)
    assert ran.code == 0, ran.err
    resolved = yaml.safe_load(ran.out)
    assert isinstance(resolved, dict)
    return resolved


@pytest.mark.slow
@pytest.mark.container
async def test_compose_validates_the_file(tmp_path):
    """Compose itself reads the file, with and without the replicas profile."""
    assert {"postgres", "bot"} <= set((await compose_config(tmp_path))["services"])
    replicas = await compose_config(tmp_path, "--profile", "replicas")
    assert set(replicas["services"]) == {"postgres", "bot", "bot-2"}


@pytest.mark.slow
@pytest.mark.container
@pytest.mark.postgres_only
async def test_the_bot_service_starts_as_compose_would(image, tmp_path, chevereto, unused_port):
    """The ``bot`` service's resolved environment, named volume and health check on the image:
    it migrates a new PostgreSQL database, turns healthy, answers a photo, keeps its
    secret.key in its volume (owned by 10001: Docker gives a new volume the owner of the
    image's /data) and no SQLite file, and stops with exit code 0."""
    resolved = (await compose_config(tmp_path))["services"]["bot"]
    healthcheck = (await inspect("image", image))["Config"]["Healthcheck"]
    assert resolved["healthcheck"]["test"] == healthcheck["Test"]
    (mount,) = resolved["volumes"]
    target = mount["target"] if isinstance(mount, dict) else mount.split(":")[1]
    assert target == "/data"
    variables = resolved["environment"].items()
    env = {name: "" if value is None else str(value) for name, value in variables}
    assert env["DATABASE_URL"].startswith("postgresql+asyncpg://chevereto_bot:composetest1@")
    assert POSTGRES_URL is not None
    database = f"compose_{uuid.uuid4().hex[:12]}"
    await _create_database(database)
    volume = new_name()
    name = new_name()
    try:
        await checked("volume", "create", "--label", LABEL, volume)
        async with FakeTelegram(token=TOKEN) as telegram:
            env |= {
                "DATABASE_URL": POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}",
                "HEALTH_LISTEN": f"127.0.0.1:{unused_port}",
                "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{unused_port}",  # unused: polling
                "CHEVERETO_URL": chevereto.url,
                "DEFAULT_API_KEY": KEY,
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": telegram.api_url,
                "TELEGRAM_FILE_URL": telegram.file_url,
            }
            options = ["-d", "--name", name, "-v", f"{volume}:/data", "--health-interval", "1s"]
            await checked(*run_args(image, env, *options))
            await telegram.wait_for_call("getUpdates", timeout=60)
            await until_healthy(name)
            alice = telegram.user(1001)
            ref = telegram.add_file(probe_png(), mime_type="image/png")
            telegram.push_update(
                telegram.message_update(telegram.private_chat(alice), alice, photo=ref)
            )
            await telegram.wait_for(lambda m: "/delete/" in (m["text"] or ""), timeout=30)
            stopping = time.monotonic()
            await checked("stop", "--time", "10", name, timeout=30)
            assert time.monotonic() - stopping < 10
            state = (await inspect("container", name))["State"]
            logs = await docker("logs", name)
        kept = owners(Path((await inspect("volume", volume))["Mountpoint"]))
        connection = await asyncpg.connect(
            POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)[0]
            + f"/{database}"
        )
        try:
            uploads = await connection.fetchval("SELECT count(*) FROM uploads")
        finally:
            await connection.close()
    finally:
        await docker("rm", "-f", name)
        await docker("volume", "rm", "-f", volume)
        await _drop_database(database)
    assert state["ExitCode"] == 0
    assert "Traceback" not in logs.err
    assert kept["secret.key"] == UID
    assert "bot.sqlite3" not in kept
    assert uploads == 1

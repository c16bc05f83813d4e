"""The one settings factory of the tests: the core's settings, never read from a ``.env``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.settings import Settings
from tests.support.fakes.chevereto import FakeChevereto


def core_settings(
    chevereto: FakeChevereto | str, data_dir: Path, database: str | None = None, **extra: Any
) -> Settings:
    """Settings on the fake host (or a URL), with DATA_DIR and, when given, DATABASE_URL."""
    url = chevereto if isinstance(chevereto, str) else chevereto.url
    if database is not None:
        extra["database_url"] = database
    return Settings(_env_file=None, chevereto_url=url, data_dir=data_dir, **extra)  # type: ignore[call-arg]

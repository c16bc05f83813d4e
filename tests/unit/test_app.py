"""The core as python -m bot builds it: a database opened with the wrong SECRET_KEY is refused."""

import pytest

from bot.app import Core
from bot.errors import StartupFailed
from bot.settings import Settings
from tests.conftest import ALICE, KEY
from tests.support.settings import core_settings

SITE = "http://127.0.0.1:9"


def settings(database: str, tmp_path, secret: str) -> Settings:
    return core_settings(SITE, tmp_path, database, secret_key=secret)


async def test_a_changed_secret_key_stops_the_start(database, tmp_path):
    """A SECRET_KEY other than the one the database was sealed with fails at start, clearly."""
    core = await Core.start(settings(database, tmp_path, "the-first-secret"))
    await core.store.keys.link(ALICE, KEY)
    await core.close()
    with pytest.raises(StartupFailed, match="SECRET_KEY"):
        await Core.start(settings(database, tmp_path, "another-secret"))
    again = await Core.start(settings(database, tmp_path, "the-first-secret"))
    assert await again.store.keys.of(ALICE) == KEY
    await again.close()


async def test_a_generated_secret_is_reused(database, tmp_path):
    """Without SECRET_KEY the generated one in DATA_DIR opens the database on the next start."""
    plain = core_settings(SITE, tmp_path, database)
    core = await Core.start(plain)
    await core.store.keys.link(ALICE, KEY)
    await core.close()
    again = await Core.start(plain)
    assert await again.store.keys.of(ALICE) == KEY
    await again.close()

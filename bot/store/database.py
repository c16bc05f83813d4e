"""The database: one engine on SQLite or PostgreSQL, migrations, and patience while it restarts.

Keys, delete links and job data are sealed with the Vault before they reach a row,
so neither the database file nor a dump holds them in clear.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.crypto import Vault
from bot.store.commits import GroupCommit
from bot.store.sqlite import write_ahead_log
from bot.store.tables import SecretCheck

MIGRATIONS = Path(__file__).with_name("migrations")
CHECK_VALUE = "chevereto-bot"  # any value works: only whether it opens matters
SQLITE_POOL = {"pool_size": 20, "max_overflow": 0}
"""Readers kept open on SQLite: a burst reads from as many connections as chats are being
served, and a connection past the pool's size would be opened for it and closed after (a
thread and a file opened each time)."""
PATIENCE_S = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
"""Pauses between tries of a write a job cannot lose, while the database is unavailable."""

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


def now() -> datetime:
    return datetime.now(UTC)


def database_unavailable(error: BaseException) -> bool:
    """A connection refused, reset or not yet accepted (a restart): not the statement's fault."""
    if isinstance(error, IntegrityError | DataError | ProgrammingError):
        return False
    return isinstance(error, DBAPIError | OSError)


def patient(write: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """For a write a job cannot lose (an upload's record, its state): a database that is
    restarting is waited for, about 30 s, rather than failing the job or answering twice."""

    @functools.wraps(write)
    async def patiently(*args: P.args, **kwargs: P.kwargs) -> T:
        for pause in PATIENCE_S:
            try:
                return await write(*args, **kwargs)
            except Exception as error:
                if not database_unavailable(error):
                    raise
                log.warning(
                    "the database is unavailable (%s); %s again in %.1f s",
                    type(error).__name__,
                    write.__name__,
                    pause,
                )
            await asyncio.sleep(pause)
        return await write(*args, **kwargs)

    return patiently


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class Database:
    """One database, opened from a SQLAlchemy URL, with the Vault that seals its secrets."""

    def __init__(self, url: str, vault: Vault) -> None:
        sqlite = url.startswith("sqlite")
        # A SQLite file cannot drop a connection: a ping would only add a round trip.
        self.engine: AsyncEngine = create_async_engine(
            url, pool_pre_ping=not sqlite, **(SQLITE_POOL if sqlite else {})
        )
        if sqlite:
            event.listen(self.engine.sync_engine, "connect", write_ahead_log)
        self.session: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )
        self.vault = vault
        self.commits = GroupCommit(self.engine)
        """The job path's writes, gathered into shared commits."""

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def migrate(self) -> None:
        """Brings the schema to the newest revision; replicas on PostgreSQL take turns."""
        async with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
            await conn.run_sync(_upgrade)

    async def check_secret(self) -> None:
        """Raises DecryptionFailed when SECRET_KEY is not the key this database was sealed with.

        Better at start than later: a wrong key would make every linked key unreadable
        and, on a shared PostgreSQL, every job another replica stored.
        """
        try:
            async with self.session.begin() as s:
                row = await s.get(SecretCheck, 1)
                if row is None:
                    s.add(SecretCheck(id=1, sealed=self.vault.seal(CHECK_VALUE)))
                    return
        except IntegrityError:  # a replica starting beside this one sealed it first: read theirs
            async with self.session() as s:
                row = await s.get(SecretCheck, 1)
            assert row is not None
        self.vault.open(row.sealed)

    async def ping(self) -> None:
        """``SELECT 1`` on a connection of the pool: raises unless the database answers now."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.commits.close()
        await self.engine.dispose()

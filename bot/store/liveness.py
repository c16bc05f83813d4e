"""Which workers are alive, on PostgreSQL: each one holds a session-level advisory lock.

A worker takes ``pg_try_advisory_lock(LOCKS, key)`` on a connection of its own and
keeps that connection open while it runs. The server releases the lock the moment the
connection dies (the process killed, its machine gone), so another worker tells a dead
worker's jobs from a slow one's within seconds instead of waiting for a lease to run
out (see ``JobQueue.claim``). The key is computed by the server from the worker's
name, so any replica can look a worker's lock up in ``pg_locks`` from a job's row.

A database restart drops every lock at once while the workers live. Each worker
notices (its lock's connection is gone) and takes its lock again; until ``settle`` has
passed since then (or since the server started), it takes no job over by the lock
rule. That leaves every live worker the time to take its own lock again and renew its
jobs, so a restart makes no job run twice.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta
from typing import Final

from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    Exists,
    Integer,
    cast,
    column,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy import table as sql_table
from sqlalchemy.dialects.postgresql import BIT, OID
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.database import Database

log = logging.getLogger(__name__)

LOCKS: Final = 4242002
"""The first key of every worker's lock (4242001 is the migrations' lock)."""

_pg_locks = sql_table(
    "pg_locks",
    column("locktype"),
    column("database"),
    column("classid"),
    column("objid"),
    column("objsubid"),
    column("granted"),
)
_pg_database = sql_table("pg_database", column("oid"), column("datname"))


def lock_key(worker: ColumnExpressionArgument[str | None]) -> ColumnElement[int]:
    """The second key of a worker's lock: the first 32 bits of the md5 of its name."""
    digits = literal("x") + func.substr(func.md5(worker), 1, 8)
    return cast(cast(digits, BIT(32)), Integer)


def lock_held(worker: ColumnExpressionArgument[str | None]) -> Exists:
    """Whether the worker that ``worker`` names holds its lock in this database right now."""
    this_database = (
        select(_pg_database.c.oid)
        .where(_pg_database.c.datname == func.current_database())
        .scalar_subquery()
    )
    return exists().where(
        _pg_locks.c.locktype == "advisory",
        _pg_locks.c.database == this_database,
        _pg_locks.c.classid == cast(literal(LOCKS), OID),
        _pg_locks.c.objid == cast(lock_key(worker), OID),
        _pg_locks.c.objsubid == 2,  # a lock taken with two int4 keys
        _pg_locks.c.granted.is_(True),
    )


class WorkerLock:
    """One worker's liveness lock: ``keep`` it every second or so, ``release`` it at the end."""

    def __init__(self, db: Database, worker: str, settle: timedelta) -> None:
        self._db = db
        self._worker = worker
        self._settle_s = settle.total_seconds()
        self._connection: AsyncConnection | None = None
        self._settled_at = 0.0
        self._lost = False

    @property
    def settled(self) -> bool:
        """Held, and long enough that every live worker holds its own again after a restart:
        only then may this worker take jobs over by the lock rule."""
        return self._connection is not None and time.monotonic() >= self._settled_at

    async def keep(self) -> None:
        """Checks that the lock's connection lives; takes the lock again when it does not.
        Raises when the database cannot be reached: try again later.

        No timeout: a slow answer does not mean a lost lock, and dropping a connection
        that still holds it would make this live worker look dead to the others.
        """
        if self._connection is not None:
            try:
                await self._connection.execute(select(literal(1)))
            except Exception:  # the connection is gone: so is the lock
                log.warning("lost the database connection holding this worker's liveness lock")
                await self.release()
                self._lost = True
            else:
                return
        await self._take()

    async def _take(self) -> None:
        connection = await self._db.engine.connect()
        try:
            # No transaction stays open on it: the lock belongs to the session.
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            taken = func.pg_try_advisory_lock(LOCKS, lock_key(literal(self._worker)))
            uptime = func.extract("epoch", func.now() - func.pg_postmaster_start_time())
            got, up_s = (await connection.execute(select(taken, uptime))).one()
        except BaseException:
            await _discard(connection)
            raise
        if not got:  # the old session of this worker is not gone yet
            await _discard(connection)
            return
        self._connection = connection
        wait = self._settle_s if self._lost else max(0.0, self._settle_s - float(up_s))
        self._settled_at = time.monotonic() + wait
        if self._lost:
            log.info("took this worker's liveness lock again")

    async def release(self) -> None:
        """Closes the lock's connection, which releases the lock (never back to the pool)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await _discard(connection)


async def _discard(connection: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await connection.invalidate()
    with contextlib.suppress(Exception):
        await connection.close()

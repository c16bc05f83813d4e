"""Group commit: the job path's writes that come while one commit runs go into the next.

Each write is a plain function of a connection. The writes waiting when a commit starts run
together in one transaction, each still whole (all of its statements are in that one
transaction), and each caller is released only once it has committed, or with its error.
A batch that fails is run again one write at a time, so a write that is wrong fails only
itself; a database that is away fails each of them, and each caller's patience
(``bot.store.database.patient``) tries again.

The writes go through one connection the job path keeps, so no statement waits on a pool's
checkout. On SQLite that connection lives in a thread of its own, opened with Python's
sqlite3 driver: a whole batch (building, running and committing its statements, the disk
sync of ``synchronous=FULL`` included) is one hand-off to that thread, done on the other
core, rather than a hand-off per statement. On PostgreSQL the batch runs on the event loop
over asyncpg. One commit at a time, so a busy moment pays one disk sync for many jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.sqlite import begin_immediate, driver_leaves_begin_to_us, write_ahead_log

log = logging.getLogger(__name__)
T = TypeVar("T")
Write = Callable[[Connection], T]
Waiting = list[tuple[Write[Any], "asyncio.Future[Any]"]]


class GroupCommit:
    def __init__(self, engine: AsyncEngine) -> None:
        self._async_engine = engine
        self._waiting: Waiting = []
        self._committing: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._connection: Connection | None = None
        self._async_connection: AsyncConnection | None = None
        self.engine: Engine = engine.sync_engine
        """The engine whose connection commits: on SQLite one of its own (the same file)."""
        if engine.dialect.name == "sqlite":
            self.engine = create_engine(engine.url.set(drivername="sqlite"))
            event.listen(self.engine, "connect", write_ahead_log)
            event.listen(self.engine, "connect", driver_leaves_begin_to_us)
            event.listen(self.engine, "begin", begin_immediate)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="group-commit")

    async def write(self, change: Write[T]) -> T:
        """Runs ``change`` in the next commit; returns what it returned, once durable."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((change, future))
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit_all(), name="group-commit")
        return await future

    async def close(self) -> None:
        """Lets the commit under way finish, then gives the connection back."""
        if self._committing is not None:
            await asyncio.wait({self._committing})
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._drop)
            self._thread.shutdown()
            self.engine.dispose()
        await self._drop_async()

    async def _commit_all(self) -> None:
        batch: Waiting = []
        try:
            while self._waiting:
                batch = [(c, f) for c, f in self._waiting if not f.cancelled()]
                self._waiting = []
                if batch:
                    await self._commit(batch)
        except BaseException:  # cancelled (the loop is closing): nobody waits in vain
            for _, future in batch + self._waiting:
                future.cancel()
            self._waiting = []
            raise

    async def _commit(self, batch: Waiting) -> None:
        try:
            results = await self._run([change for change, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0][1], error=error)
                return
            log.debug("a batch of %d writes failed (%s); one at a time", len(batch), error)
            for change, future in batch:
                try:
                    (result,) = await self._run([change])
                except Exception as alone:
                    _settle(future, error=alone)
                else:
                    _settle(future, result=result)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)

    async def _run(self, changes: list[Write[Any]]) -> list[Any]:
        """One transaction for every change: all of them committed, or none."""
        if self._thread is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread, self._run_here, changes)
        if self._async_connection is None:
            self._async_connection = await self._async_engine.connect()
        connection = self._async_connection
        try:
            async with connection.begin():
                return await connection.run_sync(_each, changes)
        except BaseException:
            # A connection that failed may be broken (the database restarted): the next
            # commit takes a fresh one.
            await self._drop_async()
            raise

    def _run_here(self, changes: list[Write[Any]]) -> list[Any]:
        """In the commit thread, on its own connection."""
        if self._connection is None:
            self._connection = self.engine.connect()
        try:
            with self._connection.begin():
                return _each(self._connection, changes)
        except BaseException:
            self._drop()
            raise

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # the pool discards a connection it cannot reset
                connection.close()

    async def _drop_async(self) -> None:
        connection, self._async_connection = self._async_connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


def _each(connection: Connection, changes: list[Write[Any]]) -> list[Any]:
    return [change(connection) for change in changes]


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, error: Exception | None = None
) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)

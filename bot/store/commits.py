"""Group commit: the job path's writes that come while one commit runs go into the next.

Each write is a function of a connection. The writes waiting when a commit starts run
together in one transaction, each still whole (all of its statements are in that one
transaction), and each caller is released only once it has committed, or with its error.
A batch that fails is run again one write at a time, so a write that is wrong fails only
itself; a database that is away fails each of them, and each caller's patience
(``bot.store.database.patient``) tries again.

The writes go through one connection the job path keeps, so no statement waits on a
pool's checkout; on SQLite ``synchronous=FULL`` makes each commit durable before anyone
is released. One commit at a time, so a busy moment pays one disk sync for many jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)
T = TypeVar("T")
Write = Callable[[AsyncConnection], Awaitable[T]]


class GroupCommit:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiting: list[tuple[Write[Any], asyncio.Future[Any]]] = []
        self._committing: asyncio.Task[None] | None = None
        self._connection: AsyncConnection | None = None

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
        await self._drop()

    async def _commit_all(self) -> None:
        batch: list[tuple[Write[Any], asyncio.Future[Any]]] = []
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

    async def _commit(self, batch: list[tuple[Write[Any], asyncio.Future[Any]]]) -> None:
        try:
            results = await self._run([change for change, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0][1], error=error)
                return
            log.debug("a batch of %d writes failed (%s); one at a time", len(batch), error)
            await self._one_by_one(batch)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)

    async def _one_by_one(self, batch: list[tuple[Write[Any], asyncio.Future[Any]]]) -> None:
        for change, future in batch:
            try:
                (result,) = await self._run([change])
            except Exception as error:
                _settle(future, error=error)
            else:
                _settle(future, result=result)

    async def _run(self, changes: list[Write[Any]]) -> list[Any]:
        """One transaction for every change: all of them committed, or none."""
        if self._connection is None:
            self._connection = await self._engine.connect()
        connection = self._connection
        try:
            async with connection.begin():
                return [await change(connection) for change in changes]
        except BaseException:
            # A connection that failed may be broken (the database restarted): the next
            # commit takes a fresh one.
            await self._drop()
            raise

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # the pool discards a connection it cannot reset
                await connection.close()


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, error: Exception | None = None
) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)

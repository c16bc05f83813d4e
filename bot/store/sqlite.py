"""How this bot opens a SQLite file: write-ahead log, and for the job path's writer a
transaction that takes the write lock as it begins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection


def write_ahead_log(dbapi_connection: Any, _: object) -> None:
    """WAL: a commit appends to the log and syncs once, where the rollback journal syncs
    three times; ``synchronous`` stays FULL, so a committed job survives a power cut."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def driver_leaves_begin_to_us(dbapi_connection: Any, _: object) -> None:
    """Python's sqlite3 would begin a transaction itself, deferred, at the first write."""
    dbapi_connection.isolation_level = None


def begin_immediate(connection: Connection) -> None:
    """The transaction takes SQLite's write lock as it begins (waiting for it like any
    writer), so a batch that reads before it writes never finds its snapshot stale when it
    comes to write."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")

"""Intent-named async access to the database, on SQLite or PostgreSQL.

Keys, delete links and job data are sealed with the Vault before they reach a
row, so neither the database file nor a dump holds them in clear.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, delete, event, func, or_, select, text, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bot.crypto import Vault
from bot.domain import ChatRef, HostImage, Platform, UserRef
from bot.errors import RateLimited
from bot.store.tables import ChatSetting, Job, LinkedKey, Preference, SecretCheck, Upload

MIGRATIONS = Path(__file__).with_name("migrations")
CHECK_VALUE = "chevereto-bot"  # any value works: only whether it opens matters
PENDING, RUNNING, DONE, COLLECTING = "pending", "running", "done", "collecting"
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


def _patient(write: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
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


@dataclass(frozen=True, slots=True)
class Prefs:
    expiration: str | None = None
    nsfw: bool | None = None
    album_id: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ChatSettings:
    mirror: bool = False
    mirror_by: str | None = None


@dataclass(frozen=True, slots=True)
class UploadRecord:
    id: int
    user: UserRef
    filename: str
    url_viewer: str
    url_short: str
    delete_url: str
    expires_at: datetime | None
    created_at: datetime
    deleted: bool


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: int
    platform: Platform
    user_id: str
    attempts: int
    payload: dict[str, Any]
    results: list[dict[str, Any]]


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _write_ahead_log(dbapi_connection: Any, _: object) -> None:
    """WAL: a commit appends to the log and syncs once, where the rollback journal syncs
    three times; ``synchronous`` stays FULL, so a committed job survives a power cut."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


class Store:
    """One database, opened from a SQLAlchemy URL, with migrations applied by ``migrate``."""

    def __init__(self, url: str, vault: Vault) -> None:
        sqlite = url.startswith("sqlite")
        # A SQLite file cannot drop a connection: a ping would only add a round trip.
        self._engine: AsyncEngine = create_async_engine(url, pool_pre_ping=not sqlite)
        if sqlite:
            event.listen(self._engine.sync_engine, "connect", _write_ahead_log)
        self._session = async_sessionmaker(self._engine, expire_on_commit=False)
        self._vault = vault

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    async def migrate(self) -> None:
        """Brings the schema to the newest revision; replicas on PostgreSQL take turns."""
        async with self._engine.begin() as conn:
            if self.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
            await conn.run_sync(_upgrade)

    async def check_secret(self) -> None:
        """Raises DecryptionFailed when SECRET_KEY is not the key this database was sealed with.

        Better at start than later: a wrong key would make every linked key unreadable
        and, on a shared PostgreSQL, every job another replica stored.
        """
        async with self._session.begin() as s:
            row = await s.get(SecretCheck, 1)
            if row is None:
                s.add(SecretCheck(id=1, sealed=self._vault.seal(CHECK_VALUE)))
                return
        self._vault.open(row.sealed)

    async def close(self) -> None:
        await self._engine.dispose()

    # keys

    async def link_key(self, user: UserRef, key: str) -> None:
        async with self._session.begin() as s:
            row = await s.get(LinkedKey, (user.platform.value, user.id))
            sealed = self._vault.seal(key)
            if row is None:
                s.add(
                    LinkedKey(
                        platform=user.platform.value,
                        user_id=user.id,
                        sealed_key=sealed,
                        linked_at=now(),
                    )
                )
            else:
                row.sealed_key, row.linked_at = sealed, now()

    async def unlink_key(self, user: UserRef) -> bool:
        async with self._session.begin() as s:
            result = await s.execute(
                delete(LinkedKey).where(
                    LinkedKey.platform == user.platform.value, LinkedKey.user_id == user.id
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def key_of(self, user: UserRef) -> str | None:
        async with self._session() as s:
            row = await s.get(LinkedKey, (user.platform.value, user.id))
            return None if row is None else self._vault.open(row.sealed_key)

    # preferences

    async def prefs(self, user: UserRef) -> Prefs:
        async with self._session() as s:
            row = await s.get(Preference, (user.platform.value, user.id))
            if row is None:
                return Prefs()
            return Prefs(row.expiration, row.nsfw, row.album_id, row.language)

    async def _set_pref(self, user: UserRef, **values: object) -> None:
        async with self._session.begin() as s:
            row = await s.get(Preference, (user.platform.value, user.id))
            if row is None:
                row = Preference(platform=user.platform.value, user_id=user.id)
                s.add(row)
            for name, value in values.items():
                setattr(row, name, value)

    async def set_expiration(self, user: UserRef, iso: str | None) -> None:
        await self._set_pref(user, expiration=iso)

    async def set_nsfw(self, user: UserRef, nsfw: bool) -> None:
        await self._set_pref(user, nsfw=nsfw)

    async def set_album(self, user: UserRef, album_id: str | None) -> None:
        await self._set_pref(user, album_id=album_id)

    async def remember_language(self, user: UserRef, language: str) -> None:
        """Kept so that answers sent later (a resumed job, a DM) speak the user's language."""
        if (await self.prefs(user)).language != language:
            await self._set_pref(user, language=language)

    # chats

    async def chat(self, chat: ChatRef) -> ChatSettings:
        async with self._session() as s:
            row = await s.get(ChatSetting, (chat.platform.value, chat.id))
            return ChatSettings() if row is None else ChatSettings(row.mirror, row.mirror_by)

    async def set_mirror(self, chat: ChatRef, on: bool, by: UserRef) -> None:
        async with self._session.begin() as s:
            row = await s.get(ChatSetting, (chat.platform.value, chat.id))
            if row is None:
                row = ChatSetting(platform=chat.platform.value, chat_id=chat.id)
                s.add(row)
            row.mirror, row.mirror_by = on, by.id if on else None

    # uploads

    @_patient
    async def record_upload(
        self, user: UserRef, chat: ChatRef, filename: str, image: HostImage
    ) -> int:
        async with self._session.begin() as s:
            row = Upload(
                platform=user.platform.value,
                user_id=user.id,
                chat_id=chat.id,
                filename=filename[:255],
                id_encoded=image.id_encoded,
                url_viewer=image.url_viewer,
                url_short=image.url_short,
                sealed_delete_url=self._vault.seal(image.delete_url),
                expires_at=image.expiration_date_gmt,
                created_at=now(),
                deleted=False,
            )
            s.add(row)
            await s.flush()
            return row.id

    def _upload_record(self, row: Upload) -> UploadRecord:
        return UploadRecord(
            id=row.id,
            user=UserRef(Platform(row.platform), row.user_id),
            filename=row.filename,
            url_viewer=row.url_viewer,
            url_short=row.url_short,
            delete_url=self._vault.open(row.sealed_delete_url),
            expires_at=row.expires_at,
            created_at=row.created_at,
            deleted=row.deleted,
        )

    async def history(self, user: UserRef, limit: int = 10) -> list[UploadRecord]:
        async with self._session() as s:
            query = (
                select(Upload)
                .where(
                    Upload.platform == user.platform.value,
                    Upload.user_id == user.id,
                    Upload.deleted.is_(False),
                )
                .order_by(Upload.id.desc())
                .limit(limit)
            )
            return [self._upload_record(row) for row in (await s.scalars(query)).all()]

    async def upload(self, upload_id: int) -> UploadRecord | None:
        async with self._session() as s:
            row = await s.get(Upload, upload_id)
            return None if row is None else self._upload_record(row)

    async def mark_deleted(self, upload_id: int) -> None:
        async with self._session.begin() as s:
            await s.execute(update(Upload).where(Upload.id == upload_id).values(deleted=True))

    # jobs

    async def add_job(self, platform: Platform, user_id: str, payload: dict[str, Any]) -> int:
        """Writes a job durably; the adapter acknowledges the platform's event only after."""
        async with self._session.begin() as s:
            job = Job(
                platform=platform.value,
                user_id=user_id,
                state=PENDING,
                attempts=0,
                sealed_payload=self._vault.seal(json.dumps(payload)),
                created_at=now(),
                updated_at=now(),
            )
            s.add(job)
            await s.flush()
            return job.id

    async def collect_item(
        self,
        platform: Platform,
        user_id: str,
        group_key: str,
        payload: dict[str, Any],
        max_items: int = 50,
    ) -> int:
        """Adds the payload's items to the job collecting ``group_key``, or starts that job.

        The job runs once no item has come for the album window (see ``claim_job``); a
        caption from any item becomes the job's caption. Past ``max_items`` an item is
        refused with RateLimited.
        """
        for _ in range(3):
            try:
                return await self._collect_once(platform, user_id, group_key, payload, max_items)
            except IntegrityError:  # another process started this album's job just now
                continue
        return await self._collect_once(platform, user_id, group_key, payload, max_items)

    async def _collect_once(
        self,
        platform: Platform,
        user_id: str,
        group_key: str,
        payload: dict[str, Any],
        max_items: int,
    ) -> int:
        async with self._session.begin() as s:
            query = select(Job).where(Job.group_key == group_key).with_for_update()
            job = (await s.scalars(query)).first()
            if job is None:
                job = Job(
                    platform=platform.value,
                    user_id=user_id,
                    state=COLLECTING,
                    attempts=0,
                    group_key=group_key,
                    created_at=now(),
                    sealed_payload=self._vault.seal(json.dumps(payload)),
                )
                s.add(job)
            else:
                merged = json.loads(self._vault.open(job.sealed_payload))
                if len(merged["items"]) + len(payload["items"]) > max_items:
                    raise RateLimited("album too large")
                merged["items"] += payload["items"]
                merged["caption"] = merged.get("caption") or payload.get("caption")
                job.sealed_payload = self._vault.seal(json.dumps(merged))
            job.updated_at = now()
            await s.flush()
            return job.id

    async def collecting(self, group_key: str) -> bool:
        """Whether an album's job is still collecting items (it has not started to run)."""
        async with self._session() as s:
            query = select(Job.id).where(Job.group_key == group_key)
            return (await s.scalars(query)).first() is not None

    async def claim_job(
        self,
        worker: str,
        lease: timedelta,
        platforms: frozenset[Platform],
        album_window: timedelta = timedelta(seconds=1.5),
    ) -> JobRecord | None:
        """Takes the oldest job that is pending, or whose worker's lease ran out.

        On PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps two processes off the same
        row; the conditional UPDATE keeps two tasks of one process apart everywhere.
        """
        moment = now()
        claimable = or_(
            (Job.state == PENDING) & (or_(Job.not_before.is_(None), Job.not_before <= moment)),
            (Job.state == RUNNING) & (Job.lease_until < moment),
            (Job.state == COLLECTING) & (Job.updated_at < moment - album_window),
        )
        async with self._session.begin() as s:
            query = (
                select(Job)
                .where(claimable, Job.platform.in_([p.value for p in platforms]))
                .order_by(Job.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            job = (await s.scalars(query)).first()
            if job is None:
                return None
            attempts = job.attempts + 1
            taken = await s.execute(
                update(Job)
                .where(Job.id == job.id, Job.state == job.state, Job.updated_at == job.updated_at)
                .values(
                    state=RUNNING,
                    group_key=None,
                    worker=worker,
                    lease_until=moment + lease,
                    attempts=attempts,
                    updated_at=moment,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(taken, "rowcount", 0) != 1:
                return None
            return self._job_record(job, attempts)

    def _job_record(self, job: Job, attempts: int) -> JobRecord:
        results = json.loads(self._vault.open(job.sealed_results)) if job.sealed_results else []
        return JobRecord(
            id=job.id,
            platform=Platform(job.platform),
            user_id=job.user_id,
            attempts=attempts,
            payload=json.loads(self._vault.open(job.sealed_payload)),
            results=results,
        )

    async def renew_lease(self, job_id: int, worker: str, lease: timedelta) -> None:
        async with self._session.begin() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id, Job.worker == worker)
                .values(lease_until=now() + lease)
            )

    @_patient
    async def save_results(self, job_id: int, results: list[dict[str, Any]]) -> None:
        async with self._session.begin() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(sealed_results=self._vault.seal(json.dumps(results)), updated_at=now())
            )

    @_patient
    async def finish_job(self, job_id: int) -> None:
        """A finished job keeps no payload or results: they held what it needed, no more."""
        async with self._session.begin() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(
                    state=DONE,
                    sealed_results=None,
                    sealed_payload="",
                    worker=None,
                    lease_until=None,
                    updated_at=now(),
                )
            )

    @_patient
    async def retry_job_later(self, job_id: int, delay: timedelta) -> None:
        async with self._session.begin() as s:
            await s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(
                    state=PENDING,
                    worker=None,
                    lease_until=None,
                    not_before=now() + delay,
                    updated_at=now(),
                )
            )

    async def release_jobs_of(self, worker: str) -> int:
        """A stopping worker hands its running jobs back, so a restart need not wait for leases."""
        async with self._session.begin() as s:
            result = await s.execute(
                update(Job)
                .where(Job.worker == worker, Job.state == RUNNING)
                .values(state=PENDING, worker=None, lease_until=None)
            )
            return int(getattr(result, "rowcount", 0))

    async def release_jobs_of_dead_workers(
        self, platforms: frozenset[Platform], since: datetime
    ) -> int:
        """On SQLite only this process runs jobs, so what was running before ``since`` (when
        this process's runner was made) was cut off by the last stop."""
        if self.dialect != "sqlite":
            return 0
        async with self._session.begin() as s:
            result = await s.execute(
                update(Job)
                .where(
                    Job.state == RUNNING,
                    Job.updated_at < since,
                    Job.platform.in_([p.value for p in platforms]),
                )
                .values(state=PENDING, worker=None, lease_until=None)
            )
            return int(getattr(result, "rowcount", 0))

    async def waiting_jobs_of(self, platform: Platform, user_id: str) -> int:
        """Jobs of one user not finished yet: what a per-user limit counts."""
        async with self._session() as s:
            query = (
                select(func.count())
                .select_from(Job)
                .where(Job.platform == platform.value, Job.user_id == user_id, Job.state != DONE)
            )
            return int((await s.execute(query)).scalar_one())

    async def unfinished_jobs(self) -> int:
        async with self._session() as s:
            query = select(func.count()).select_from(Job).where(Job.state != DONE)
            return int((await s.execute(query)).scalar_one())

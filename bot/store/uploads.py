"""The upload history: what each user uploaded, with its delete link sealed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, insert, or_, select, update

from bot.crypto import Vault
from bot.domain import Borrowed, ChatRef, EmbedForm, HostImage, Outcome, Text, UploadRecord, UserRef
from bot.payloads import FileResult
from bot.store.database import Database, now, patient
from bot.store.tables import Upload, table_of

NO_URL = ""
"""What the columns hold for a URL the host gave none usable of (they predate such answers and
are NOT NULL; the records say None)."""


@dataclass(frozen=True, slots=True)
class NewUpload:
    """A finished upload not recorded yet: who, where, which file, what the host answered."""

    user: UserRef
    chat: ChatRef
    filename: str
    image: HostImage
    size: int = 0
    """Bytes sent."""
    form: EmbedForm = EmbedForm.LINKS
    """What the answer carries for it besides the links (the uploader's ``/format``)."""
    note: Text | None = None
    source: str | None = None
    """Where on its platform the file was posted (``FileRef.source``)."""
    borrowed: Borrowed | None = None
    """Whose key it went up with, when not the uploader's own."""

    def result(self, record: UploadRecord) -> FileResult:
        """What became of its file, once recorded."""
        return FileResult(
            self.filename,
            Outcome.UPLOADED,
            record,
            size=self.size,
            form=self.form,
            note=self.note,
            borrowed=self.borrowed,
        )


_ADD = insert(table_of(Upload)).returning(Upload.id)
"""Built once: a job's upload is recorded with no statement building."""


def add_upload(c: Connection, vault: Vault, new: NewUpload) -> UploadRecord:
    """Writes ``new`` in the connection's transaction; the record returned is built from what was
    written, not read back. A job writes it together with its results (``JobQueue``)."""
    moment, image = now(), new.image
    filename = new.filename[:255]
    title = image.title[:100] if image.title else None
    upload_id = c.scalar(
        _ADD,
        {
            "platform": new.user.platform,
            "user_id": new.user.id,
            "chat_id": new.chat.id,
            "filename": filename,
            "id_encoded": image.id_encoded,
            "url_viewer": image.url_viewer or NO_URL,
            "url_short": image.url_short or NO_URL,
            "sealed_delete_url": vault.seal(image.delete_url or NO_URL),
            "expires_at": image.expiration_date_gmt,
            "created_at": moment,
            "deleted": False,
            "url": image.url,
            "title": title,
            "thumb_url": image.thumb_url,
            "media_type": image.type,
            "source": new.source,
        },
    )
    assert upload_id is not None
    return UploadRecord(
        id=upload_id,
        user=new.user,
        filename=filename,
        url_viewer=image.url_viewer,
        url_short=image.url_short,
        delete_url=image.delete_url,
        expires_at=image.expiration_date_gmt,
        created_at=moment,
        url=image.url,
        title=title,
        thumb_url=image.thumb_url,
        media_type=image.type,
    )


def _kept_of(user: UserRef) -> tuple[ColumnElement[bool], ...]:
    """The user's uploads on its platform that were not deleted through the bot."""
    return (
        Upload.platform == user.platform,
        Upload.user_id == user.id,
        Upload.deleted.is_(False),
    )


class Uploads:
    def __init__(self, db: Database) -> None:
        self._db = db

    @patient
    async def record(
        self,
        user: UserRef,
        chat: ChatRef,
        filename: str,
        image: HostImage,
        *,
        source: str | None = None,
    ) -> UploadRecord:
        """Keeps one finished upload made outside a job (a backfill's); the record it returns
        is what was written."""
        new = NewUpload(user, chat, filename, image, source=source)
        return await self._db.commits.write(lambda c: add_upload(c, self._db.vault, new))

    async def by_source(self, platform: str, sources: list[str]) -> dict[str, UploadRecord]:
        """The uploads, not deleted through the bot, of files posted at ``sources`` (a
        platform's message and attachment): a file already re-hosted, with its links."""
        if not sources:
            return {}
        async with self._db.session() as s:
            query = select(Upload).where(
                Upload.platform == platform,
                Upload.source.in_(sources),
                Upload.deleted.is_(False),
            )
            rows = (await s.scalars(query)).all()
            return {row.source: self._record(row) for row in rows if row.source is not None}

    def _record(self, row: Upload) -> UploadRecord:
        return UploadRecord(
            id=row.id,
            user=UserRef(row.platform, row.user_id),
            filename=row.filename,
            url_viewer=row.url_viewer or None,
            url_short=row.url_short or None,
            delete_url=self._db.vault.open(row.sealed_delete_url) or None,
            expires_at=row.expires_at,
            created_at=row.created_at,
            deleted=row.deleted,
            url=row.url,
            title=row.title,
            thumb_url=row.thumb_url,
            media_type=row.media_type,
        )

    async def history(self, user: UserRef, limit: int = 10) -> list[UploadRecord]:
        """The user's last uploads not deleted through the bot, newest first."""
        async with self._db.session() as s:
            query = select(Upload).where(*_kept_of(user)).order_by(Upload.id.desc()).limit(limit)
            return [self._record(row) for row in (await s.scalars(query)).all()]

    async def search(self, user: UserRef, words: str, limit: int = 20) -> list[UploadRecord]:
        """The user's last uploads (newest first) that can still be shown: not deleted through
        the bot, not expired, with a direct link (none while awaiting moderation, nor for
        uploads recorded before it was kept), whose title or file name holds every word, in
        any case; ``%`` and ``_`` in a word are plain characters. No words: the latest."""
        async with self._db.session() as s:
            query = (
                select(Upload)
                .where(
                    *_kept_of(user),
                    Upload.url.is_not(None),
                    or_(Upload.expires_at.is_(None), Upload.expires_at > now()),
                    *(_holds(word) for word in words.split()),
                )
                .order_by(Upload.id.desc())
                .limit(limit)
            )
            return [self._record(row) for row in (await s.scalars(query)).all()]

    async def get(self, upload_id: int) -> UploadRecord | None:
        async with self._db.session() as s:
            row = await s.get(Upload, upload_id)
            return None if row is None else self._record(row)

    async def mark_deleted(self, upload_id: int) -> None:
        async with self._db.session.begin() as s:
            await s.execute(update(Upload).where(Upload.id == upload_id).values(deleted=True))


def _holds(word: str) -> ColumnElement[bool]:
    """The title or the file name holds ``word``, case aside (``ILIKE`` on PostgreSQL,
    ``lower() LIKE`` on SQLite), its LIKE wildcards escaped."""
    return or_(
        Upload.title.icontains(word, autoescape=True),
        Upload.filename.icontains(word, autoescape=True),
    )

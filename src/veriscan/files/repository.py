from __future__ import annotations

import re
import uuid
from functools import cache
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from veriscan.core import paging
from veriscan.core.db import core_execute
from veriscan.core.errors import ValidationFailed
from veriscan.files.models import Blob, File

_DIGEST = re.compile(r"[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_search(value: str | None) -> str | None:
    """A `search` text without control characters (PostgreSQL refuses NUL in a string);
    None when nothing is left."""
    if value is None:
        return None
    text = _CONTROL.sub("", value).strip()
    return text or None


def parse_digest(value: str | None) -> str | None:
    """A `hash` filter: an MD5, SHA-1 or SHA-256 in hex (any case), or a clear 400."""
    if value is None or not value.strip():
        return None
    digest = value.strip().lower()
    if not _DIGEST.fullmatch(digest):
        raise ValidationFailed("hash must be an MD5, SHA-1 or SHA-256 in hexadecimal")
    return digest


def by_digest(digest: str) -> Any:
    """Files with this MD5, SHA-1 or SHA-256."""
    column = {32: File.hash_md5, 40: File.hash_sha1, 64: File.hash_sha256}[len(digest)]
    return column == digest


def name_contains(column: Any, text: str) -> Any:
    """A case-insensitive substring match, the text's own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped.lower()}%", escape="\\")


class BlobRepository:
    """Reference counts of stored content. Each call locks the blob's row until commit."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def acquire(self, sha256: str, size: int) -> int:
        """Add one reference (creating the row if needed); returns the new count."""
        statement = _blob_upsert(self.session.get_bind().dialect.name)
        parameters = {"sha256": sha256, "size": size, "ref_count": 1}
        return int(core_execute(self.session, statement, parameters).scalar_one())

    def release(self, sha256: str) -> int:
        """Drop one reference; the row goes when none remain. Returns what remains."""
        remaining = self.session.execute(
            update(Blob)
            .where(Blob.sha256 == sha256)
            .values(ref_count=Blob.ref_count - 1)
            .returning(Blob.ref_count)
        ).scalar_one_or_none()
        if remaining is not None and remaining <= 0:
            self.session.execute(delete(Blob).where(Blob.sha256 == sha256))
            return 0
        return int(remaining or 0)


@cache
def _blob_upsert(dialect: str) -> Any:
    """Built once (every upload takes a reference), run with its parameters."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(Blob)
        .on_conflict_do_update(index_elements=[Blob.sha256], set_={"ref_count": Blob.ref_count + 1})
        .returning(Blob.ref_count)
    )


def _file_conditions(user_id: uuid.UUID, search: str | None, digest: str | None) -> list[Any]:
    conditions: list[Any] = [File.user_id == user_id]
    if search:
        conditions.append(name_contains(File.filename, search))
    if digest:
        conditions.append(by_digest(digest))
    return conditions


class FileRepository:
    """Every query starts from the files the user owns."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def listing(
        self, user_id: uuid.UUID, *, search: str | None = None, digest: str | None = None
    ) -> Select[File]:
        """The user's files, newest first (also what GET /api/files/ streams and pages)."""
        query = select(File).where(*_file_conditions(user_id, search, digest))
        return query.order_by(File.upload_date.desc(), File.id.desc())

    def page(
        self,
        user_id: uuid.UUID,
        *,
        search: str | None,
        digest: str | None,
        offset: int,
        limit: int,
    ) -> tuple[list[File], int]:
        """One page of the user's files, newest first, and how many there are: the page's
        ids from the index (core.paging), then those rows."""
        listing = paging.Listing(self.session, File, File.id, [File.upload_date], descending=True)
        part = paging.Part(_file_conditions(user_id, search, digest))
        ids, total = listing.page([part], offset, limit)
        return [row[0] for row in listing.rows(select(File), ids)], total

    def count_for(
        self, user_id: uuid.UUID, *, search: str | None = None, digest: str | None = None
    ) -> int:
        query = select(func.count()).select_from(File)
        return self.session.scalar(query.where(*_file_conditions(user_id, search, digest))) or 0

    def get_for(self, user_id: uuid.UUID, file_id: uuid.UUID) -> File | None:
        return self.session.scalar(select(File).where(File.user_id == user_id, File.id == file_id))

    def add(self, file: File, *, flush: bool = True) -> File:
        self.session.add(file)
        if flush:
            self.session.flush()
        return file

    def delete(self, file: File) -> None:
        self.session.delete(file)
        self.session.flush()

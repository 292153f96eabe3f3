from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from veriscan.files.models import Blob, File


class BlobRepository:
    """Reference counts of stored content. Each call locks the blob's row until commit."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def acquire(self, sha256: str, size: int) -> int:
        """Add one reference (creating the row if needed); returns the new count."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(Blob)
            .values(sha256=sha256, size=size, ref_count=1)
            .on_conflict_do_update(
                index_elements=[Blob.sha256], set_={"ref_count": Blob.ref_count + 1}
            )
            .returning(Blob.ref_count)
        )
        return int(self.session.execute(statement).scalar_one())

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


class FileRepository:
    """Every query starts from the files the user owns."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def list_for(self, user_id: uuid.UUID) -> Sequence[File]:
        return self.session.scalars(
            select(File).where(File.user_id == user_id).order_by(File.upload_date.desc(), File.id)
        ).all()

    def get_for(self, user_id: uuid.UUID, file_id: uuid.UUID) -> File | None:
        return self.session.scalar(select(File).where(File.user_id == user_id, File.id == file_id))

    def add(self, file: File) -> File:
        self.session.add(file)
        self.session.flush()
        return file

    def delete(self, file: File) -> None:
        self.session.delete(file)
        self.session.flush()

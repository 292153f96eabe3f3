from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from veriscan.batches.models import Batch
from veriscan.files.models import File
from veriscan.malware.models import MalwareScan
from veriscan.media.models import MediaScan


class BatchRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, batch: Batch) -> Batch:
        self.session.add(batch)
        self.session.flush()
        return batch

    def get(self, batch_id: uuid.UUID) -> Batch | None:
        return self.session.get(Batch, batch_id)

    def page_for(self, user_id: uuid.UUID, page: int, limit: int) -> tuple[list[Batch], int]:
        """The user's own batches, newest first."""
        mine = select(Batch).where(Batch.user_id == user_id)
        total = self.session.scalar(select(func.count()).select_from(mine.subquery())) or 0
        rows = self.session.scalars(
            mine.order_by(Batch.created_at.desc(), Batch.id.desc())
            .offset((page - 1) * limit)
            .limit(limit)
        )
        return list(rows), total

    def malware_scans(self, batch_id: uuid.UUID) -> Sequence[tuple[MalwareScan, File]]:
        rows = self.session.execute(
            select(MalwareScan, File)
            .join(File, File.id == MalwareScan.file_id)
            .where(MalwareScan.batch_id == batch_id)
            .order_by(MalwareScan.created_at, MalwareScan.id)
        )
        return [(row[0], row[1]) for row in rows]

    def media_scans(self, batch_id: uuid.UUID) -> Sequence[MediaScan]:
        return list(
            self.session.scalars(
                select(MediaScan)
                .where(MediaScan.batch_id == batch_id)
                .order_by(MediaScan.created_at, MediaScan.id)
            )
        )

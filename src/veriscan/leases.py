"""Leases on job rows: how a worker claims a scan, keeps it, and loses it.

A scan row is the truth about its job. A worker claims it with one conditional UPDATE
(waiting, or running with a lapsed lease) that sets a fresh lease and a new claim token;
every later write by that worker matches the token, so once another worker has taken the
scan over, the first one can no longer record anything. Used by malware and media scans.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import String, Text, bindparam, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from veriscan.core.db import Database, core_execute, utcnow


class LeasedJob:
    """The columns a job row needs to be claimed, kept and finished (a model mixin)."""

    error: Mapped[str | None] = mapped_column(Text, default=None)
    progress: Mapped[int] = mapped_column(default=0)
    stage: Mapped[str] = mapped_column(String(40), default="queued")
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    # A worker owns the job while lease_until is in the future; claim_token says which.
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    deadline_at: Mapped[datetime]


@dataclass(frozen=True)
class Leases:
    # A mapped class with status, created_at, lease_until, claim_token, attempts, deadline_at.
    model: Any
    waiting: str
    running: str

    def claim(
        self, session: Session, job_id: uuid.UUID, token: str, now: datetime, lease: timedelta
    ) -> bool:
        return self.claimed(session, job_id, token, now, lease, (self.model.id,)) is not None

    def claimed(
        self,
        session: Session,
        job_id: uuid.UUID,
        token: str,
        now: datetime,
        lease: timedelta,
        columns: Sequence[Any],
    ) -> Any:
        """`claim`, returning the claimed row's `columns` as they are now (None: not
        claimed), read by the same statement: plain values, no ORM object."""
        parameters = {"job_id": job_id, "token": token, "now": now, "until": now + lease}
        return core_execute(session, self._claim_statement(tuple(columns)), parameters).first()

    def owned(self, session: Session, job_id: uuid.UUID, token: str, **values: Any) -> bool:
        """Update the row only while this worker still holds the claim."""
        return self.owned_returning(session, job_id, token, (self.model.id,), **values) is not None

    def owned_returning(
        self, session: Session, job_id: uuid.UUID, token: str, columns: Sequence[Any], **values: Any
    ) -> Any:
        """`owned`, returning the updated row's `columns` (None: the claim was lost)."""
        statement = self._owned_statement(tuple(sorted(values)), tuple(columns))
        parameters = {f"new_{name}": value for name, value in values.items()}
        return core_execute(
            session, statement, {"job_id": job_id, "token": token, **parameters}
        ).first()

    # Every scan is claimed and finished with these: built once (building one cost more
    # than running it), run with its parameters.

    @lru_cache(maxsize=8)  # noqa: B019 (one Leases per kind of job, kept for the process)
    def _claim_statement(self, columns: tuple[Any, ...]) -> Any:
        model = self.model
        job_id = bindparam("job_id", type_=model.id.type)
        now = bindparam("now", type_=model.lease_until.type)
        return (
            update(model)
            .where(
                model.id == job_id,
                model.deadline_at > now,
                or_(
                    model.status == self.waiting,
                    # Running, but its worker died (lease lapsed) or it let go of it
                    # between two parts (a malware scan waiting on VirusTotal).
                    (model.status == self.running)
                    & or_(model.lease_until < now, model.claim_token.is_(None)),
                ),
            )
            .values(
                status=self.running,
                claim_token=bindparam("token", type_=model.claim_token.type),
                lease_until=bindparam("until", type_=model.lease_until.type),
                attempts=model.attempts + 1,
                started_at=func.coalesce(model.started_at, now),
            )
            .returning(*columns)
            .execution_options(synchronize_session=False)
        )

    @lru_cache(maxsize=64)  # noqa: B019 (one Leases per kind of job, kept for the process)
    def _owned_statement(self, names: tuple[str, ...], columns: tuple[Any, ...]) -> Any:
        model = self.model
        values = {name: bindparam(f"new_{name}", type_=getattr(model, name).type) for name in names}
        return (
            update(model)
            .where(
                model.id == bindparam("job_id", type_=model.id.type),
                model.claim_token == bindparam("token", type_=model.claim_token.type),
                model.status == self.running,
            )
            .values(values)
            .returning(*columns)
            .execution_options(synchronize_session=False)
        )

    def release_lapsed(self, session: Session, now: datetime, lease: timedelta) -> list[uuid.UUID]:
        """Jobs whose lease ran out go back to waiting (their old claim void); returns them
        to be enqueued again.

        A job is not returned again before another lease, or its own age, has passed,
        whichever is longer. A wake-up lost by the queue is rare, but a backlog is not:
        a job still waiting behind hundreds of others must not be enqueued again every
        lease (that grows the queue by the backlog each time); this way a job waiting for
        a time T is enqueued about log2(T / lease) times.
        """
        model = self.model
        lapsed = session.execute(
            select(model.id, model.created_at).where(
                model.status.in_((self.waiting, self.running)),
                model.lease_until < now,
                model.deadline_at > now,
            )
        ).all()
        if lapsed:
            table = model.__table__  # Core: one statement executed per row, each its lease
            session.execute(
                update(table)
                .where(
                    table.c.id == bindparam("job_id"),
                    # Not IN (...): an expanding parameter cannot be used per row.
                    or_(table.c.status == self.waiting, table.c.status == self.running),
                )
                .values(status=self.waiting, claim_token=None, lease_until=bindparam("until")),
                [
                    {"job_id": job_id, "until": now + max(lease, now - created)}
                    for job_id, created in lapsed
                ],
            )
        return [job_id for job_id, _ in lapsed]

    def fail_overdue(
        self, session: Session, now: datetime, failed: str, reason: str
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Jobs past their deadline fail with the reason; returns (job id, owner id) pairs."""
        model = self.model
        overdue = session.execute(
            select(model.id, model.user_id).where(
                model.status.in_((self.waiting, self.running)), model.deadline_at <= now
            )
        ).all()
        if overdue:
            session.execute(
                update(model)
                .where(
                    model.id.in_([row[0] for row in overdue]),
                    model.status.in_((self.waiting, self.running)),
                )
                .values(status=failed, error=reason, completed_at=now, claim_token=None)
                .execution_options(synchronize_session=False)
            )
        return [(row[0], row[1]) for row in overdue]


class LostClaim(Exception):
    """Another worker took the job over (this one was too slow to renew its lease)."""


class Stopping(Exception):
    """This process is stopping: the job writes nothing and is left to its lease."""


async def keep_claim(
    db: Database,
    leases: Leases,
    job_id: uuid.UUID,
    token: str,
    lease: timedelta,
    work: list[asyncio.Task[Any]],
) -> None:
    """Renew the lease every third of it while the work runs; cancel the work and raise
    LostClaim if the claim is gone."""
    while True:
        await asyncio.sleep(lease.total_seconds() / 3)

        def renew() -> bool:
            with db.session() as session:
                return leases.owned(session, job_id, token, lease_until=utcnow() + lease)

        if not await asyncio.to_thread(renew):
            for task in work:
                task.cancel()
            raise LostClaim

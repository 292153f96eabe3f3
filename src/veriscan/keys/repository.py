from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, true, update
from sqlalchemy.orm import Session

from veriscan.engines.virustotal.quota import Allowance
from veriscan.keys.models import ApiKey


class ApiKeyRepository:
    """Every query starts from the keys the user owns."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def list_for(self, user_id: uuid.UUID) -> Sequence[ApiKey]:
        return self.session.scalars(
            select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at)
        ).all()

    def get_for(self, user_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
        return self.session.scalar(
            select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.id == key_id)
        )

    def all(self) -> Sequence[ApiKey]:
        return self.session.scalars(select(ApiKey)).all()

    def add(self, key: ApiKey) -> ApiKey:
        self.session.add(key)
        self.session.flush()
        return key

    def delete(self, key: ApiKey) -> None:
        self.session.delete(key)
        self.session.flush()


def allowance_for(
    session: Session, fingerprint: str, default: Allowance, max_age: timedelta, now: datetime
) -> tuple[Allowance, bool]:
    """What VirusTotal last said the key of this fingerprint may send (over every stored
    key of that value), and whether to ask again: never asked, or longer ago than
    `max_age`. The default (a free key's) until VirusTotal says."""
    key = session.scalars(
        select(ApiKey)
        .where(ApiKey.fingerprint == fingerprint)
        .order_by(ApiKey.allowance_read_at.desc().nulls_last())
        .limit(1)
    ).first()
    if key is None or key.allowance_read_at is None:
        return default, True
    allowance = Allowance(
        per_minute=key.allowed_per_minute or default.per_minute,
        per_hour=key.allowed_per_hour,
        per_day=key.allowed_per_day or default.per_day,
    )
    return allowance, key.allowance_read_at < now - max_age


def store_allowance(
    session: Session,
    fingerprint: str,
    allowance: Allowance,
    now: datetime,
    *,
    but: uuid.UUID | None = None,
) -> None:
    """Keep what VirusTotal said on every stored key of this value (but one), leaving
    their change dates as they are: the keys' owners changed nothing."""
    session.execute(
        update(ApiKey)
        .where(ApiKey.fingerprint == fingerprint, ApiKey.id != but if but else true())
        .values(
            updated_at=ApiKey.updated_at,
            allowed_per_minute=allowance.per_minute,
            allowed_per_hour=allowance.per_hour,
            allowed_per_day=allowance.per_day,
            allowance_read_at=now,
        )
        .execution_options(synchronize_session=False)
    )

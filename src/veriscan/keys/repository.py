from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

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

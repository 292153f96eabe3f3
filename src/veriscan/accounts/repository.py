from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from veriscan.accounts.models import AuthSession, User


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, user_id: uuid.UUID) -> User | None:
        return self.session.get(User, user_id)

    def by_login(self, identifier: str) -> User | None:
        identifier = identifier.lower()
        return self.session.scalar(
            select(User).where(or_(User.username == identifier, User.email == identifier))
        )

    def taken(
        self, *, username: str | None, email: str | None, except_id: uuid.UUID | None
    ) -> set[str]:
        """Which of the given username and email another user already has."""
        clauses = []
        if username:
            clauses.append(User.username == username)
        if email:
            clauses.append(User.email == email)
        if not clauses:
            return set()
        query = select(User.username, User.email).where(or_(*clauses))
        if except_id is not None:
            query = query.where(User.id != except_id)
        taken: set[str] = set()
        for found_username, found_email in self.session.execute(query):
            if username and found_username == username:
                taken.add("username")
            if email and found_email == email:
                taken.add("email")
        return taken

    def add(self, user: User) -> User:
        self.session.add(user)
        self.session.flush()
        return user

    def count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(User)) or 0


class SessionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, auth_session: AuthSession) -> AuthSession:
        self.session.add(auth_session)
        self.session.flush()
        return auth_session

    def active_with_user(
        self, session_id: uuid.UUID, user_id: uuid.UUID, now: datetime
    ) -> User | None:
        """The user of a session that is neither revoked nor expired, if that user is active.
        Every authenticated request asks: the statement is built once."""
        parameters = {"session_id": session_id, "user_id": user_id, "now": now}
        user: User | None = self.session.scalar(_active_with_user(), parameters)
        return user

    def revoke(self, session_id: uuid.UUID, now: datetime) -> None:
        self.session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def revoke_all_for(
        self, user_id: uuid.UUID, now: datetime, *, keep: uuid.UUID | None = None
    ) -> None:
        query = update(AuthSession).where(
            AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
        )
        if keep is not None:
            query = query.where(AuthSession.id != keep)
        self.session.execute(query.values(revoked_at=now))


@cache
def _active_with_user() -> Any:
    return (
        select(User)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            AuthSession.id == bindparam("session_id", type_=AuthSession.id.type),
            AuthSession.user_id == bindparam("user_id", type_=AuthSession.user_id.type),
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > bindparam("now", type_=AuthSession.expires_at.type),
            User.is_active.is_(True),
        )
    )

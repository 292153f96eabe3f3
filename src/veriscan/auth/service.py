"""Accounts: registration, login, tokens that can be revoked, profiles."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from veriscan.accounts.models import AuthSession, Role, User
from veriscan.accounts.repository import SessionRepository, UserRepository
from veriscan.accounts.service import Authenticated, authenticate
from veriscan.audit import service as audit
from veriscan.audit.service import Origin
from veriscan.auth.schemas import LoginRequest, ProfileUpdate, RegisterRequest
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.core.errors import Conflict, Unauthorized, ValidationFailed

logger = logging.getLogger("veriscan.auth")

INVALID_LOGIN = "Invalid username or password"


@dataclass(frozen=True)
class LoginResult:
    user: User
    access_token: str
    refresh_token: str


def _conflict(taken: set[str]) -> Conflict:
    what = " and ".join(sorted(taken)) or "username or email"
    return Conflict(f"{what.capitalize()} already exists")


def create_user(
    session: Session,
    context: AppContext,
    *,
    username: str,
    email: str,
    password: str,
    role: Role = Role.OPERATIVE,
    name: str | None = None,
) -> User:
    username, email = username.strip().lower(), email.strip().lower()
    password_hash = context.passwords.hash(password)  # before the transaction: it is slow
    users = UserRepository(session)
    taken = users.taken(username=username, email=email, except_id=None)
    if taken:
        raise _conflict(taken)
    user = User(
        username=username,
        email=email,
        name=(name or username).strip(),
        password_hash=password_hash,
        role=role.value,
        is_active=True,
    )
    try:
        with session.begin_nested():
            users.add(user)
    except IntegrityError:
        # Someone registered the same name between the check and the insert.
        raise _conflict(set()) from None
    logger.info("auth.user_created user_id=%s role=%s", user.id, user.role)
    return user


def register(
    session: Session, context: AppContext, request: RegisterRequest, *, origin: Origin | None = None
) -> User:
    user = create_user(
        session,
        context,
        username=request.username,
        email=str(request.email),
        password=request.password,
        name=request.name,
    )
    audit.record(
        session,
        action="auth.register",
        actor=user,
        origin=origin,
        target_type="user",
        target_id=user.id,
    )
    return user


def login(
    context: AppContext, request: LoginRequest, *, client_address: str, user_agent: str | None
) -> LoginResult:
    # Two short transactions, so the slow password check holds no database lock.
    with context.db.session(writes=False) as session:
        user = UserRepository(session).by_login(request.identifier)
    password_ok = context.passwords.verify(request.password, user.password_hash if user else None)
    origin = Origin(client_address, user_agent or "")
    if user is None or not password_ok:
        logger.info("auth.login_failed")
        _record_failed_login(context, request.identifier, origin, "invalid_credentials")
        raise Unauthorized(INVALID_LOGIN)
    if not user.is_active:
        _record_failed_login(context, request.identifier, origin, "deactivated")
        raise Unauthorized("This account is deactivated")
    now = utcnow()
    auth_session = AuthSession(
        id=uuid.uuid4(),
        user_id=user.id,
        created_at=now,
        expires_at=now + context.tokens.refresh_ttl,
        client_address=client_address[:64],
        user_agent=(user_agent or "")[:255] or None,
    )
    with context.db.session() as session:
        SessionRepository(session).add(auth_session)
        audit.record(
            session,
            action="auth.login",
            actor=user,
            origin=origin,
            target_type="user",
            target_id=user.id,
            details={"session_id": str(auth_session.id)},
        )
    logger.info("auth.login user_id=%s session_id=%s", user.id, auth_session.id)
    return LoginResult(
        user=user,
        access_token=context.tokens.issue(user.id, auth_session.id, "access"),
        refresh_token=context.tokens.issue(user.id, auth_session.id, "refresh"),
    )


def _record_failed_login(context: AppContext, identifier: str, origin: Origin, reason: str) -> None:
    # A transaction of its own: the failure is answered with an error, which rolls back
    # whatever the request would have written, and the attempt must still be kept.
    with context.db.session() as session:
        audit.record(
            session,
            action="auth.login_failed",
            origin=origin,
            details={"identifier": identifier[:100], "reason": reason},
        )


def refresh(context: AppContext, refresh_token: str) -> str:
    authenticated = authenticate(context, refresh_token, expected="refresh")
    return context.tokens.issue(authenticated.user.id, authenticated.claims.session_id, "access")


def logout(session: Session, current: Authenticated, *, origin: Origin | None = None) -> None:
    claims = current.claims
    SessionRepository(session).revoke(claims.session_id, utcnow())
    audit.record(
        session,
        action="auth.logout",
        actor=current.user,
        origin=origin,
        target_type="user",
        target_id=current.user.id,
        details={"session_id": str(claims.session_id)},
    )
    logger.info("auth.logout user_id=%s session_id=%s", claims.user_id, claims.session_id)


def update_profile(
    session: Session,
    context: AppContext,
    current: Authenticated,
    request: ProfileUpdate,
    *,
    origin: Origin | None = None,
) -> User:
    fields = request.model_fields_set - {"current_password"}
    if not any(getattr(request, name) is not None for name in fields):
        raise ValidationFailed("No update data provided")
    new_hash = None
    if request.new_password is not None:
        if not request.current_password:
            raise ValidationFailed("current_password is required to set a new password")
        if not context.passwords.verify(request.current_password, current.user.password_hash):
            raise Unauthorized("Current password is incorrect")
        new_hash = context.passwords.hash(request.new_password)
    username = request.username.lower() if request.username else None
    email = str(request.email).lower() if request.email else None
    users = UserRepository(session)
    taken = users.taken(username=username, email=email, except_id=current.user.id)
    if taken:
        raise _conflict(taken)
    user = users.get(current.user.id)
    if user is None:
        raise Unauthorized()
    if username:
        user.username = username
    if email:
        user.email = email
    if request.name:
        user.name = request.name
    if new_hash:
        user.password_hash = new_hash
        # A new password ends every other login: a stolen token stops working.
        SessionRepository(session).revoke_all_for(user.id, utcnow(), keep=current.claims.session_id)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise _conflict(set()) from None
    changed = sorted(name for name in fields if getattr(request, name) is not None)
    audit.record(
        session,
        action="auth.password_changed" if new_hash else "auth.profile_updated",
        actor=user,
        origin=origin,
        target_type="user",
        target_id=user.id,
        # Names of the fields only: never their values (a password is one of them).
        details={"fields": changed},
    )
    logger.info("auth.profile_updated user_id=%s fields=%s", user.id, ",".join(sorted(fields)))
    return user


LOOKUP_LIMIT = 8


def lookup(session: Session, caller: User, start: str) -> list[User]:
    """Active users (not the caller) whose username or display name starts with `start`,
    case-insensitively, by username."""
    escaped = start.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"{escaped}%"
    return list(
        session.scalars(
            select(User)
            .where(
                User.is_active.is_(True),
                User.id != caller.id,
                or_(
                    func.lower(User.username).like(pattern, escape="\\"),
                    func.lower(User.name).like(pattern, escape="\\"),
                ),
            )
            .order_by(User.username)
            .limit(LOOKUP_LIMIT)
        )
    )

"""Accounts: registration, login, tokens that can be revoked, profiles."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from veriscan.auth.models import AuthSession, Role, User
from veriscan.auth.repository import SessionRepository, UserRepository
from veriscan.auth.schemas import LoginRequest, ProfileUpdate, RegisterRequest
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.core.errors import Conflict, Unauthorized, ValidationFailed
from veriscan.core.security import TokenClaims

logger = logging.getLogger("veriscan.auth")

INVALID_LOGIN = "Invalid username or password"


@dataclass(frozen=True)
class LoginResult:
    user: User
    access_token: str
    refresh_token: str


@dataclass(frozen=True)
class Authenticated:
    user: User
    claims: TokenClaims


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


def register(session: Session, context: AppContext, request: RegisterRequest) -> User:
    return create_user(
        session,
        context,
        username=request.username,
        email=str(request.email),
        password=request.password,
        name=request.name,
    )


def login(
    context: AppContext, request: LoginRequest, *, client_address: str, user_agent: str | None
) -> LoginResult:
    # Two short transactions, so the slow password check holds no database lock.
    with context.db.session(writes=False) as session:
        user = UserRepository(session).by_login(request.identifier)
    password_ok = context.passwords.verify(request.password, user.password_hash if user else None)
    if user is None or not password_ok:
        logger.info("auth.login_failed")
        raise Unauthorized(INVALID_LOGIN)
    if not user.is_active:
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
    logger.info("auth.login user_id=%s session_id=%s", user.id, auth_session.id)
    return LoginResult(
        user=user,
        access_token=context.tokens.issue(user.id, auth_session.id, "access"),
        refresh_token=context.tokens.issue(user.id, auth_session.id, "refresh"),
    )


def authenticate(context: AppContext, token: str, expected: str = "access") -> Authenticated:
    """The user behind a token, if the token, its session and the user are all good."""
    claims = context.tokens.decode(token, "refresh" if expected == "refresh" else "access")
    if claims is None:
        raise Unauthorized()
    with context.db.session(writes=False) as session:
        user = SessionRepository(session).active_with_user(
            claims.session_id, claims.user_id, utcnow()
        )
    if user is None:
        raise Unauthorized()
    return Authenticated(user=user, claims=claims)


def refresh(context: AppContext, refresh_token: str) -> str:
    authenticated = authenticate(context, refresh_token, expected="refresh")
    return context.tokens.issue(authenticated.user.id, authenticated.claims.session_id, "access")


def logout(session: Session, claims: TokenClaims) -> None:
    SessionRepository(session).revoke(claims.session_id, utcnow())
    logger.info("auth.logout user_id=%s session_id=%s", claims.user_id, claims.session_id)


def update_profile(
    session: Session, context: AppContext, current: Authenticated, request: ProfileUpdate
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
    logger.info("auth.profile_updated user_id=%s fields=%s", user.id, ",".join(sorted(fields)))
    return user

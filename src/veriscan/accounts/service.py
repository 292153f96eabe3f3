"""A token read back to its user: the one thing every request needs from accounts."""

from __future__ import annotations

from dataclasses import dataclass

from veriscan.accounts.models import User
from veriscan.accounts.repository import SessionRepository
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.core.errors import Unauthorized
from veriscan.core.security import TokenClaims


@dataclass(frozen=True)
class Authenticated:
    user: User
    claims: TokenClaims


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

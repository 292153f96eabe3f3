"""User management for admins: list, create, change role, (de)activate.

At least one active admin always remains: the last one can be neither demoted nor
deactivated. Deactivating a user ends their logins at once.
"""

from __future__ import annotations

import logging
import math
import uuid

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from veriscan.accounts.models import Role, User
from veriscan.accounts.repository import SessionRepository
from veriscan.audit import service as audit
from veriscan.audit.service import Origin
from veriscan.auth import service as auth_service
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.core.errors import Conflict, NotFound, ValidationFailed

logger = logging.getLogger("veriscan.admin")


def list_users(
    session: Session,
    *,
    search: str | None,
    role: str | None,
    active: bool | None,
    page: int,
    limit: int,
) -> tuple[list[User], int, int]:
    query = select(User)
    if search:
        like = f"%{search.lower()}%"
        query = query.where(
            or_(User.username.like(like), User.email.like(like), func.lower(User.name).like(like))
        )
    if role:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.is_active.is_(active))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    users = session.scalars(
        query.order_by(User.created_at, User.id).offset((page - 1) * limit).limit(limit)
    ).all()
    return list(users), total, math.ceil(total / limit) if total else 0


def create_user(
    session: Session,
    context: AppContext,
    admin: User,
    *,
    username: str,
    email: str,
    password: str,
    role: Role,
    name: str | None,
    origin: Origin | None = None,
) -> User:
    user = auth_service.create_user(
        session,
        context,
        username=username,
        email=email,
        password=password,
        role=role,
        name=name,
    )
    audit.record(
        session,
        action="user.create",
        actor=admin,
        origin=origin,
        target_type="user",
        target_id=user.id,
        details={"username": user.username, "role": user.role},
    )
    return user


def update_user(
    session: Session,
    admin: User,
    user_id: uuid.UUID,
    *,
    role: Role | None,
    is_active: bool | None,
    origin: Origin | None = None,
) -> User:
    if role is None and is_active is None:
        raise ValidationFailed("No update data provided")
    # Lock the admins' rows so two admins demoting each other at once cannot leave none.
    active_admins = session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN.value, User.is_active.is_(True))
        .with_for_update()
    ).all()
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found")
    loses_admin = user.id in active_admins and (
        (role is not None and role != Role.ADMIN) or is_active is False
    )
    if loses_admin and len(active_admins) <= 1:
        raise Conflict("At least one active admin must remain")
    now = utcnow()
    if role is not None and user.role != role.value:
        audit.record(
            session,
            action="user.role_changed",
            actor=admin,
            origin=origin,
            target_type="user",
            target_id=user.id,
            details={"username": user.username, "old": user.role, "new": role.value},
        )
    if is_active is not None and user.is_active != is_active:
        audit.record(
            session,
            action="user.activated" if is_active else "user.deactivated",
            actor=admin,
            origin=origin,
            target_type="user",
            target_id=user.id,
            details={"username": user.username},
        )
    if role is not None:
        user.role = role.value
    if is_active is not None:
        user.is_active = is_active
        if not is_active:
            SessionRepository(session).revoke_all_for(user.id, now)
    user.updated_at = now
    session.flush()
    logger.info(
        "admin.user_updated user_id=%s by=%s role=%s active=%s",
        user.id,
        admin.id,
        user.role,
        user.is_active,
    )
    return user

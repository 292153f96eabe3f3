"""Users' VirusTotal keys: stored encrypted, checked with VirusTotal, never shown again."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from veriscan.audit import service as audit
from veriscan.audit.service import Origin
from veriscan.auth.models import User
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.core.errors import NotFound, ValidationFailed
from veriscan.engines.virustotal.client import KeyCheck, KeyValidation
from veriscan.keys.models import ApiKey
from veriscan.keys.repository import ApiKeyRepository
from veriscan.keys.schemas import KeyCreate, KeyUpdate

logger = logging.getLogger("veriscan.keys")

KEY_NOT_FOUND = "API key not found"


def list_keys(session: Session, user: User) -> list[ApiKey]:
    return list(ApiKeyRepository(session).list_for(user.id))


def get_key(session: Session, user: User, key_id: uuid.UUID) -> ApiKey:
    key = ApiKeyRepository(session).get_for(user.id, key_id)
    if key is None:
        raise NotFound(KEY_NOT_FOUND)
    return key


def _refuse_invalid(check: KeyValidation) -> None:
    if check.status == KeyCheck.INVALID:
        raise ValidationFailed(check.message, code="INVALID_API_KEY")


async def validate(context: AppContext, key_value: str) -> KeyValidation:
    check = await context.virustotal.validate_key(key_value)
    logger.info("keys.validated status=%s", check.status.value)
    return check


async def create_key(
    context: AppContext, user: User, body: KeyCreate, *, origin: Origin | None = None
) -> ApiKey:
    # VirusTotal is asked before anything is stored; when it cannot be reached the key is
    # kept as "unverified" so that an offline install can still be set up.
    check = await validate(context, body.key_value)
    _refuse_invalid(check)

    def store() -> ApiKey:
        with context.db.session() as session:
            key = ApiKey(
                user_id=user.id,
                name=body.name,
                encrypted_value=context.secret_box.encrypt(body.key_value),
                is_active=True,
                status="valid" if check.status == KeyCheck.VALID else "unverified",
                last_validated_at=utcnow() if check.status == KeyCheck.VALID else None,
            )
            ApiKeyRepository(session).add(key)
            audit.record(
                session,
                action="key.create",
                actor=user,
                origin=origin,
                target_type="api_key",
                target_id=key.id,
                details={"name": key.name, "status": key.status},  # never the key itself
            )
            return key

    key = await run_in_threadpool(store)
    logger.info("keys.created key_id=%s user_id=%s status=%s", key.id, user.id, key.status)
    return key


async def update_key(
    context: AppContext,
    user: User,
    key_id: uuid.UUID,
    body: KeyUpdate,
    *,
    origin: Origin | None = None,
) -> ApiKey:
    if body.name is None and body.key_value is None and body.is_active is None:
        raise ValidationFailed("No update data provided")
    with context.db.session(writes=False) as session:
        if ApiKeyRepository(session).get_for(user.id, key_id) is None:
            raise NotFound(KEY_NOT_FOUND)
    check = await validate(context, body.key_value) if body.key_value is not None else None
    if check is not None:
        _refuse_invalid(check)

    def apply() -> ApiKey:
        with context.db.session() as session:
            key = get_key(session, user, key_id)
            if body.name is not None:
                key.name = body.name
            if body.is_active is not None:
                key.is_active = body.is_active
            if body.key_value is not None and check is not None:
                key.encrypted_value = context.secret_box.encrypt(body.key_value)
                key.status = "valid" if check.status == KeyCheck.VALID else "unverified"
                key.last_validated_at = utcnow() if check.status == KeyCheck.VALID else None
            key.updated_at = utcnow()
            session.flush()
            changed = [
                name
                for name in ("name", "key_value", "is_active")
                if getattr(body, name) is not None
            ]
            audit.record(
                session,
                action="key.update",
                actor=user,
                origin=origin,
                target_type="api_key",
                target_id=key.id,
                # Which fields changed, and the new name and state: never the key value.
                details={
                    "fields": changed,
                    "name": key.name,
                    "is_active": key.is_active,
                    "status": key.status,
                },
            )
            return key

    key = await run_in_threadpool(apply)
    logger.info("keys.updated key_id=%s user_id=%s", key.id, user.id)
    return key


def delete_key(
    session: Session, user: User, key_id: uuid.UUID, *, origin: Origin | None = None
) -> None:
    repository = ApiKeyRepository(session)
    key = repository.get_for(user.id, key_id)
    if key is None:
        raise NotFound(KEY_NOT_FOUND)
    audit.record(
        session,
        action="key.delete",
        actor=user,
        origin=origin,
        target_type="api_key",
        target_id=key.id,
        details={"name": key.name},
    )
    repository.delete(key)
    logger.info("keys.deleted key_id=%s user_id=%s", key_id, user.id)


def rotate_encryption(session: Session, context: AppContext) -> int:
    """Re-encrypt every stored key under the current secret; returns how many."""
    keys = ApiKeyRepository(session).all()
    for key in keys:
        key.encrypted_value = context.secret_box.rotate(key.encrypted_value)
    session.flush()
    return len(keys)

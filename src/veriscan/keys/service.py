"""Users' VirusTotal keys: stored encrypted, checked with VirusTotal, never shown again."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from veriscan.accounts.models import User
from veriscan.audit import service as audit
from veriscan.audit.service import Origin
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.core.errors import NotFound, ValidationFailed
from veriscan.engines.virustotal.client import KeyCheck, KeyValidation
from veriscan.engines.virustotal.engine import allowance_from
from veriscan.engines.virustotal.quota import Allowance
from veriscan.keys.models import ApiKey
from veriscan.keys.repository import ApiKeyRepository, allowance_for, store_allowance
from veriscan.keys.schemas import KeyCreate, KeyUpdate

logger = logging.getLogger("veriscan.keys")

KEY_NOT_FOUND = "API key not found"
# VirusTotal's row of a scan that was waiting on the key.
KEY_DELETED = "Not asked: the scan's VirusTotal key was deleted"
KEY_DEACTIVATED = "Not asked: the scan's VirusTotal key was deactivated"


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


QUOTA_BUSY = (
    "VirusTotal was not asked: this key's quota has no room now (its scans use it); "
    "the key was not checked"
)


async def validate(context: AppContext, key_value: str) -> KeyValidation:
    """Ask VirusTotal (GET /users/{key}) whether it knows the key, and what it may send.

    Like every request to VirusTotal, this takes a slot of the key's quota first: a key
    whose quota is full (its scans, or other users of the same key) is not checked now,
    rather than making VirusTotal answer 429. The request waits at most the VirusTotal
    timeout for a slot.
    """
    fingerprint = context.quota.key_id(key_value)

    def known_allowance() -> Allowance:
        with context.db.session(writes=False) as session:
            return allowance_for(
                session,
                fingerprint,
                context.virustotal_engine.default,
                timedelta(seconds=context.settings.virustotal_allowance_seconds),
                utcnow(),
            )[0]

    allowance = await run_in_threadpool(known_allowance)
    try:
        await context.quota.take(
            key_value,
            allowance,
            deadline=time.monotonic() + context.settings.virustotal_timeout,
        )
    except TimeoutError:
        logger.info("keys.validation_deferred reason=quota")
        return KeyValidation(KeyCheck.UNREACHABLE, QUOTA_BUSY)
    check = await context.virustotal.validate_key(key_value)
    if check.status == KeyCheck.UNREACHABLE:
        context.reach.failed("key validation: " + check.message[:100])
    else:
        context.reach.answered()
    logger.info("keys.validated status=%s", check.status.value)
    return check


def _allowance_of(context: AppContext, check: KeyValidation) -> Allowance | None:
    if check.status != KeyCheck.VALID or check.quotas is None:
        return None
    return allowance_from(
        {"attributes": {"quotas": check.quotas}}, context.virustotal_engine.default
    )


def _keep_allowance(
    session: Session, context: AppContext, key: ApiKey, key_value: str, check: KeyValidation
) -> None:
    """What VirusTotal said of the key's allowance, on this key and every other stored
    key of the same value (their own change dates untouched)."""
    allowance = _allowance_of(context, check)
    if allowance is None:
        return
    now = utcnow()
    key.allowed_per_minute = allowance.per_minute
    key.allowed_per_hour = allowance.per_hour
    key.allowed_per_day = allowance.per_day
    key.allowance_read_at = now
    session.flush()
    store_allowance(session, context.quota.key_id(key_value), allowance, now, but=key.id)


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
                fingerprint=context.quota.key_id(body.key_value),
            )
            _keep_allowance(session, context, key, body.key_value, check)
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

    def apply() -> tuple[ApiKey, Callable[[], None]]:
        announce: Callable[[], None] = lambda: None  # noqa: E731
        with context.db.session() as session:
            key = get_key(session, user, key_id)
            if body.name is not None:
                key.name = body.name
            if body.is_active is not None:
                if key.is_active and not body.is_active:
                    announce = context.release_key_scans(session, key.id, KEY_DEACTIVATED)
                key.is_active = body.is_active
            if body.key_value is not None and check is not None:
                key.encrypted_value = context.secret_box.encrypt(body.key_value)
                key.fingerprint = context.quota.key_id(body.key_value)
                key.status = "valid" if check.status == KeyCheck.VALID else "unverified"
                key.last_validated_at = utcnow() if check.status == KeyCheck.VALID else None
                key.allowance_read_at = None
                _keep_allowance(session, context, key, body.key_value, check)
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
        return key, announce

    key, announce = await run_in_threadpool(apply)
    announce()
    logger.info("keys.updated key_id=%s user_id=%s", key.id, user.id)
    return key


def delete_key(
    session: Session,
    context: AppContext,
    user: User,
    key_id: uuid.UUID,
    *,
    origin: Origin | None = None,
) -> Callable[[], None]:
    """Delete the key; the scans waiting on it complete with their local verdicts.
    Returns what to announce once the caller's transaction is committed."""
    repository = ApiKeyRepository(session)
    key = repository.get_for(user.id, key_id)
    if key is None:
        raise NotFound(KEY_NOT_FOUND)
    announce = context.release_key_scans(session, key.id, KEY_DELETED)
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
    return announce


def rotate_encryption(session: Session, context: AppContext) -> int:
    """Re-encrypt every stored key under the current secret; returns how many."""
    keys = ApiKeyRepository(session).all()
    for key in keys:
        key.encrypted_value = context.secret_box.rotate(key.encrypted_value)
    session.flush()
    return len(keys)

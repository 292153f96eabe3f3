"""Notifications: what a finished scan tells its owner, in the app and by e-mail.

A scan's runner calls `notify_scan_finished` inside the transaction that writes the
scan's final status, so the notification exists exactly when the outcome does (a scan
recorded twice, or rolled back, notifies nobody). After the commit the runner calls
`deliver`: the socket.io event and the e-mail must not go out for a row that might
still roll back, and neither may ever fail or hold up the scan.
"""

from __future__ import annotations

import logging
import math
import smtplib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from veriscan.accounts.models import User
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.core.errors import NotFound
from veriscan.notifications import mailer
from veriscan.notifications.models import (
    EmailWhen,
    Notification,
    NotificationPreferences,
    Severity,
)
from veriscan.notifications.repository import NotificationRepository
from veriscan.notifications.schemas import PreferencesUpdate
from veriscan.realtime import user_room

logger = logging.getLogger("veriscan.notifications")

NOT_FOUND = "Notification not found"
SCAN_COMPLETED = "scan.completed"
SCAN_FAILED = "scan.failed"
_KIND_WORDS = {"malware": "malware scan", "media": "media analysis"}
# A user who never saved preferences: in the app, no e-mail (NotificationPreferences).
DEFAULT_PREFERENCES = (True, EmailWhen.NEVER.value)


@dataclass(frozen=True)
class ScanFinished:
    """What the owner is told about one scan that reached completed or failed."""

    user_id: uuid.UUID
    scan_kind: str  # "malware" or "media": also the dashboard's /scans/<kind>/<id>
    scan_id: uuid.UUID
    kind: str
    severity: Severity
    title: str
    message: str


@dataclass
class Delivery:
    """What is left to do once the scan's transaction has committed."""

    user_id: uuid.UUID
    event: dict[str, Any] | None = None
    email: EmailMessage | None = None
    scan_id: uuid.UUID | None = None
    unread: int | None = None  # counted in the transaction that added the notification


def malware_finished(
    *,
    user_id: uuid.UUID,
    scan_id: uuid.UUID,
    file_name: str,
    malicious: int,
    detection_ratio: str | None,
    error: str | None,
    local_only: str | None = None,
) -> ScanFinished:
    """`local_only`: why VirusTotal's verdicts are missing, when only local engines
    answered (their "clean" is then worded as what it is)."""
    if error is not None:
        return _failed(user_id, "malware", scan_id, file_name, error)
    ratio = detection_ratio or "0/0"
    if malicious > 0:
        return ScanFinished(
            user_id,
            "malware",
            scan_id,
            SCAN_COMPLETED,
            Severity.CRITICAL,
            f"Malware found in {file_name}",
            f"The malware scan of {file_name} completed: verdict MALICIOUS, "
            f"{malicious} engine(s) flag it (detection ratio {ratio}).",
        )
    if local_only is not None:
        title = f"No local rule matched {file_name}"
        message = (
            f"The malware scan of {file_name} completed with the local engines only: no "
            f"local rule matched (detection ratio {ratio}). VirusTotal: {local_only}"
        )
    else:
        title = f"No malware found in {file_name}"
        message = (
            f"The malware scan of {file_name} completed: verdict CLEAN, "
            f"no engine flags it as malicious (detection ratio {ratio})."
        )
    return ScanFinished(user_id, "malware", scan_id, SCAN_COMPLETED, Severity.INFO, title, message)


def media_finished(
    *,
    user_id: uuid.UUID,
    scan_id: uuid.UUID,
    file_name: str,
    verdict: str | None,
    risk_score: int | None,
    error: str | None,
) -> ScanFinished:
    if error is not None or verdict is None:
        return _failed(user_id, "media", scan_id, file_name, error or "no verdict")
    risk = f" (risk score {risk_score}/100)" if risk_score is not None else ""
    message = f"The media analysis of {file_name} completed: verdict {verdict}{risk}."
    if verdict == "DEEPFAKE":
        title, severity = f"Deepfake detected in {file_name}", Severity.CRITICAL
    else:
        title, severity = f"{file_name}: {verdict}", Severity.INFO
    return ScanFinished(user_id, "media", scan_id, SCAN_COMPLETED, severity, title, message)


def _failed(
    user_id: uuid.UUID, scan_kind: str, scan_id: uuid.UUID, file_name: str, reason: str
) -> ScanFinished:
    return ScanFinished(
        user_id,
        scan_kind,
        scan_id,
        SCAN_FAILED,
        Severity.INFO,
        f"Scan failed: {file_name}",
        f"The {_KIND_WORDS.get(scan_kind, 'scan')} of {file_name} failed: {reason}",
    )


def notify_scan_finished(session: Session, context: AppContext, finished: ScanFinished) -> Delivery:
    """Inside the scan's final transaction: store the in-app notification and prepare the
    e-mail, as the owner's preferences ask. A failure here is logged and rolled back to a
    savepoint: it never costs the scan its result."""
    delivery = Delivery(user_id=finished.user_id, scan_id=finished.scan_id)
    # The caller's pending rows (the scan's) are written first, outside the savepoint:
    # rolling back to it must not take them, and their failure is not the notification's.
    # The savepoint is the connection's, cheaper than the session's: the statements in it
    # are Core statements, of which the session keeps nothing.
    session.flush()
    try:
        with session.connection().begin_nested():
            repository = NotificationRepository(session)
            settings = repository.settings_of(finished.user_id)
            in_app, email_when = settings if settings is not None else DEFAULT_PREFERENCES
            if in_app:
                values = {
                    "id": uuid.uuid4(),
                    "user_id": finished.user_id,
                    "created_at": utcnow(),
                    "kind": finished.kind,
                    "severity": finished.severity.value,
                    "title": finished.title[:200],
                    "message": finished.message,
                    "scan_kind": finished.scan_kind,
                    "scan_id": finished.scan_id,
                    "read_at": None,
                }
                repository.insert(values)
                delivery.event = _event_of(values)
                delivery.unread = repository.unread_count(finished.user_id)
            if _wants_email(email_when, finished.severity) and mailer.enabled(context.settings):
                recipient = repository.recipient(finished.user_id)
                if recipient is not None:
                    delivery.email = mailer.build(
                        context.settings,
                        recipient,
                        f"[Veriscan] {finished.title}",
                        _email_body(context, finished),
                    )
    except SQLAlchemyError:
        logger.exception("notifications.record_failed scan_id=%s", finished.scan_id)
        return Delivery(user_id=finished.user_id, scan_id=finished.scan_id)
    return delivery


def deliver(context: AppContext, delivery: Delivery) -> None:
    """After the commit: push notification:new to the owner, then send the e-mail.

    Called from the worker thread that ran the scan, after the scan's own events: the
    e-mail waits at most the SMTP timeout and only delays that worker's next job."""
    if delivery.event is not None:
        unread = delivery.unread
        if unread is None:
            try:
                with context.db.session(writes=False) as session:
                    unread = NotificationRepository(session).unread_count(delivery.user_id)
            except SQLAlchemyError:
                logger.warning("notifications.count_failed user_id=%s", delivery.user_id)
        context.realtime.publish(
            "notification:new", {**delivery.event, "unread": unread}, [user_room(delivery.user_id)]
        )
    if delivery.email is not None:
        try:
            mailer.send(context.settings, delivery.email)
        except (OSError, smtplib.SMTPException) as exc:
            # No traceback and never the password: the reason is in the exception's text.
            logger.warning(
                "notifications.email_failed scan_id=%s host=%s port=%s error=%s: %s",
                delivery.scan_id,
                context.settings.smtp_host,
                context.settings.smtp_port,
                type(exc).__name__,
                exc,
            )
        else:
            logger.info("notifications.email_sent scan_id=%s", delivery.scan_id)


def deliver_after_response(
    background: Any, context: AppContext, deliveries: Iterable[Delivery | None]
) -> None:
    """Deliver once the request's transaction has committed: FastAPI's BackgroundTasks
    run after the response is sent (for notifications made by an API call)."""
    for delivery in deliveries:
        if delivery is not None:
            background.add_task(deliver, context, delivery)


def _wants_email(email_when: str, severity: Severity) -> bool:
    return email_when == EmailWhen.ALL.value or (
        email_when == EmailWhen.CRITICAL.value and severity is Severity.CRITICAL
    )


def _email_body(context: AppContext, finished: ScanFinished) -> str:
    lines = [finished.title, "", finished.message]
    if context.settings.public_url:
        base = context.settings.public_url.rstrip("/")
        lines += ["", f"Details: {base}/scans/{finished.scan_kind}/{finished.scan_id}"]
    lines += [
        "",
        "--",
        "Veriscan. You receive this because of your notification preferences;",
        "change them on the dashboard's Notifications page.",
    ]
    return "\n".join(lines) + "\n"


def _event_of(values: dict[str, Any]) -> dict[str, Any]:
    """notification:new's payload from a notification's columns."""
    return {
        "id": str(values["id"]),
        "kind": values["kind"],
        "severity": values["severity"],
        "title": values["title"],
        "message": values["message"],
        "scanKind": values["scan_kind"],
        "scanId": str(values["scan_id"]) if values["scan_id"] else None,
        "createdAt": values["created_at"].isoformat(),
    }


# The API: a user's own notifications only (another's id is "not found", never revealed).


def list_notifications(
    session: Session, user: User, *, unread_only: bool, page: int, per_page: int
) -> tuple[list[Notification], int, int, int]:
    """One page, newest first: (rows, total, pages, unread)."""
    repository = NotificationRepository(session)
    rows, total = repository.page(
        user.id, unread_only=unread_only, offset=(page - 1) * per_page, limit=per_page
    )
    unread = total if unread_only else repository.unread_count(user.id)
    return list(rows), total, math.ceil(total / per_page), unread


def unread_count(session: Session, user: User) -> int:
    return NotificationRepository(session).unread_count(user.id)


def mark_read(session: Session, user: User, notification_id: uuid.UUID) -> Notification:
    notification = _own(session, user, notification_id)
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.flush()
    return notification


def mark_all_read(session: Session, user: User) -> int:
    return NotificationRepository(session).mark_all_read(user.id, utcnow())


def delete(session: Session, user: User, notification_id: uuid.UUID) -> None:
    NotificationRepository(session).delete(_own(session, user, notification_id))


def preferences(session: Session, user: User) -> NotificationPreferences:
    """The user's preferences, or the defaults (not stored until changed)."""
    return NotificationRepository(session).preferences(user.id) or _defaults(user)


def update_preferences(
    session: Session, user: User, change: PreferencesUpdate
) -> NotificationPreferences:
    repository = NotificationRepository(session)
    current = repository.preferences(user.id) or _defaults(user)
    if change.inApp is not None:
        current.in_app = change.inApp
    if change.email is not None:
        current.email = change.email
    current.updated_at = utcnow()
    return repository.save_preferences(current)


def _defaults(user: User) -> NotificationPreferences:
    in_app, email = DEFAULT_PREFERENCES
    return NotificationPreferences(user_id=user.id, in_app=in_app, email=email)


def _own(session: Session, user: User, notification_id: uuid.UUID) -> Notification:
    notification = NotificationRepository(session).get_for(user.id, notification_id)
    if notification is None:
        raise NotFound(NOT_FOUND)
    return notification

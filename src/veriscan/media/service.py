"""Media scans: accepting uploads, waiting for the analysis, history, details, deletion."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from veriscan.accounts.models import Role, User
from veriscan.analyzers import animation
from veriscan.analyzers.base import AV_OPTIONS, MediaKind
from veriscan.audit import service as audit
from veriscan.audit.service import Origin
from veriscan.context import AppContext
from veriscan.core.db import utcnow
from veriscan.core.errors import Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from veriscan.core.filenames import clean_filename
from veriscan.core.sniff import mime_type_of
from veriscan.files.repository import BlobRepository
from veriscan.files.service import get_file, keep_blob, receive_upload, releasing_blob
from veriscan.media.models import MediaEvidence, MediaScan, MediaStatus
from veriscan.media.repository import HistoryFilters, MediaScanRepository
from veriscan.scans import ScanKind, ScanRef, access
from veriscan.scans.cleanup import forget_scans
from veriscan.scans.hooks import ScanHooks, register
from veriscan.uploads import HEAD_BYTES, ReceivedFile

logger = logging.getLogger("veriscan.media")

SCAN_NOT_FOUND = "Scan not found"
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
# Containers that may hold video or only sound: the streams decide.
AMBIGUOUS_TYPES = {
    "application/ogg",
    "video/webm",
    "video/mp4",
    "video/quicktime",
    "audio/mp4",
    "video/3gpp",
}


def media_kind(path: Path, mime_type: str) -> MediaKind | None:
    """IMAGE, VIDEO or AUDIO from the content; None when it is none of them."""
    if mime_type.startswith("image/"):
        # An animated GIF, WebP or PNG is frames over time: analysed as a video.
        return MediaKind.VIDEO if animation.is_animated(path) else MediaKind.IMAGE
    if mime_type in AMBIGUOUS_TYPES or mime_type.startswith(("video/", "audio/")):
        try:
            import av

            # With the analyzers' frame bound: probing decodes a frame, in this request.
            with av.open(str(path), options=AV_OPTIONS) as container:
                if container.streams.video:
                    return MediaKind.VIDEO
                if container.streams.audio:
                    return MediaKind.AUDIO
        except Exception as exc:
            logger.info("media.probe_failed mime=%s error=%s", mime_type, type(exc).__name__)
        if mime_type.startswith("audio/"):
            return MediaKind.AUDIO
        if mime_type.startswith("video/"):
            return MediaKind.VIDEO
    return None


def parse_tags(raw: str | None) -> list[str]:
    if not raw:
        return []
    tags: list[str] = []
    for part in raw.split(","):
        tag = " ".join(part.split())[:MAX_TAG_LENGTH]
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValidationFailed(f"At most {MAX_TAGS} tags")
    return tags


def _merged_tags(tags: list[str]) -> list[str]:
    """Tags deduplicated case-insensitively, the first spelling kept."""
    seen: set[str] = set()
    merged: list[str] = []
    for tag in tags:
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            merged.append(tag)
    return merged


def edit_tags(
    session: Session,
    viewer: User,
    scan_id: uuid.UUID,
    *,
    replace: list[str] | None = None,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    origin: Origin | None = None,
) -> ScanView:
    """New tags for a scan, by its owner, analysts or admins (not by those it was shared with).

    `replace` gives the whole list; otherwise `remove` then `add` change the current one.
    tags_text follows, so that the search index (triggers or a generated column) does.
    """
    view = get_scan(session, viewer, scan_id)
    scan = view.scan
    if not access.can_manage(viewer, ScanKind.MEDIA, scan.user_id):
        raise Forbidden("Only the scan's owner, analysts and admins edit its tags")
    old = list(scan.tags)
    if replace is not None:
        new = _merged_tags(replace)
    else:
        removed = {tag.casefold() for tag in remove}
        new = _merged_tags([tag for tag in old if tag.casefold() not in removed] + list(add))
    if len(new) > MAX_TAGS:
        raise ValidationFailed(f"At most {MAX_TAGS} tags")
    if new != old:
        scan.tags = new
        scan.tags_text = " ".join(new)
        audit.record(
            session,
            action="media.tags_changed",
            actor=viewer,
            origin=origin,
            target_type="media_scan",
            target_id=scan.id,
            details={"old": old, "new": new},
        )
        session.flush()
    return view


async def receive(context: AppContext, request: Request) -> tuple[ReceivedFile, list[str]]:
    # The deepfake document answers 413 for a file over the limit.
    received, fields = await receive_upload(context, request, too_large=PayloadTooLarge)
    try:
        tags = parse_tags(fields.get("tags"))
    except ValidationFailed:
        if received.writer is not None:
            received.writer.discard()
        raise
    return received, tags


def accept(
    context: AppContext,
    user: User,
    received: ReceivedFile,
    tags: list[str],
    *,
    origin: Origin | None = None,
    batch_id: uuid.UUID | None = None,
) -> MediaScan:
    writer = received.writer
    assert writer is not None and writer.digests is not None
    try:
        mime_type = mime_type_of(bytes(received.head))
        kind = _kind_or_refuse(writer.path, mime_type)
        context.blobs.stage(writer)
        with context.db.session() as session:
            keep_blob(session, context, writer)
            scan = _add_scan(
                context,
                session,
                user,
                _Content(
                    clean_filename(received.filename),
                    kind,
                    mime_type,
                    writer.digests.size,
                    writer.digests.sha256,
                ),
                tags,
                origin=origin,
                batch_id=batch_id,
            )
    finally:
        writer.discard()
    return _started(context, scan)


def accept_stored(
    context: AppContext,
    user: User,
    file_id: uuid.UUID,
    tags: list[str],
    *,
    origin: Origin | None = None,
    batch_id: uuid.UUID | None = None,
) -> MediaScan:
    """A media scan of a file the user already stored (POST /api/files/upload): the same
    content, one more reference to it, nothing uploaded or copied again."""
    with context.db.session(writes=False) as session:
        file = get_file(session, user, file_id)
        name, size, sha256 = file.filename, file.file_size, file.hash_sha256
    path = context.blobs.path_for(sha256)
    try:
        with path.open("rb") as stream:
            head = stream.read(HEAD_BYTES)
    except FileNotFoundError:
        raise NotFound("The file is no longer stored") from None
    mime_type = mime_type_of(head)
    content = _Content(name, _kind_or_refuse(path, mime_type), mime_type, size, sha256)
    with context.db.session() as session:
        # Deleted meanwhile? Then there is no reference to add to.
        get_file(session, user, file_id)
        BlobRepository(session).acquire(content.sha256, content.size)
        scan = _add_scan(
            context, session, user, content, tags, origin=origin, batch_id=batch_id, file_id=file_id
        )
    return _started(context, scan)


@dataclass(frozen=True)
class _Content:
    """What a new media scan analyses: a name, its kind and stored content."""

    file_name: str
    kind: MediaKind
    mime_type: str
    size: int
    sha256: str


def _kind_or_refuse(path: Path, mime_type: str) -> MediaKind:
    kind = media_kind(path, mime_type)
    if kind is None:
        raise ValidationFailed(
            f"Not an image, video or audio file (the content is {mime_type})",
            code="UNSUPPORTED_MEDIA",
        )
    return kind


def _add_scan(
    context: AppContext,
    session: Session,
    user: User,
    content: _Content,
    tags: list[str],
    *,
    origin: Origin | None,
    batch_id: uuid.UUID | None,
    file_id: uuid.UUID | None = None,
) -> MediaScan:
    now = utcnow()
    scan = MediaScanRepository(session).add(
        MediaScan(
            user_id=user.id,
            file_name=content.file_name,
            media_type=content.kind.value,
            mime_type=content.mime_type,
            file_size=content.size,
            sha256=content.sha256,
            tags=tags,
            tags_text=" ".join(tags),
            status=MediaStatus.PENDING.value,
            created_at=now,
            lease_until=now + timedelta(seconds=context.settings.scan_lease_seconds),
            deadline_at=now + timedelta(seconds=context.settings.scan_deadline_seconds),
            batch_id=batch_id,
        )
    )
    details: dict[str, object] = {
        "filename": scan.file_name,
        "media_type": scan.media_type,
        "size": scan.file_size,
        "sha256": scan.sha256,
    }
    if file_id is not None:
        details["file_id"] = str(file_id)
    audit.record(
        session,
        action="media.upload",
        actor=user,
        origin=origin,
        target_type="media_scan",
        target_id=scan.id,
        details=details,
    )
    return scan


def _started(context: AppContext, scan: MediaScan) -> MediaScan:
    context.enqueue_media(scan.id)
    logger.info(
        "media.accepted scan_id=%s kind=%s size=%d", scan.id, scan.media_type, scan.file_size
    )
    return scan


def respond_async(request: Request) -> bool:
    """The client asked not to wait for the analysis (RFC 7240 `Prefer: respond-async`):
    it follows the scan itself, over socket.io or GET /api/scans/{id}."""
    preferences = ",".join(request.headers.getlist("prefer")).lower()
    return any(p.strip().split(";")[0] == "respond-async" for p in preferences.split(","))


async def upload(
    context: AppContext, user: User, request: Request, *, origin: Origin | None = None
) -> tuple[MediaScan, bool]:
    """Accept an upload and wait a while for its analysis (not at all when the client
    prefers to respond async); True when it finished in time."""
    received, tags = await receive(context, request)
    scan = await run_in_threadpool(accept, context, user, received, tags, origin=origin)
    if respond_async(request):
        return scan, False
    deadline = time.monotonic() + context.settings.media_wait_seconds
    delay = 0.05
    while True:
        current = await run_in_threadpool(_reload, context, scan.id)
        if current is None:
            raise NotFound(SCAN_NOT_FOUND)
        if current.status in (MediaStatus.COMPLETED.value, MediaStatus.FAILED.value):
            return current, True
        if time.monotonic() + delay > deadline:
            return current, False
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def _reload(context: AppContext, scan_id: uuid.UUID) -> MediaScan | None:
    with context.db.session(writes=False) as session:
        return MediaScanRepository(session).get(scan_id)


@dataclass(frozen=True)
class ScanView:
    scan: MediaScan
    operative: str
    evidence: list[MediaEvidence]


def get_scan(session: Session, viewer: User, scan_id: uuid.UUID) -> ScanView:
    repository = MediaScanRepository(session)
    found = repository.get_visible(viewer, scan_id)
    if found is None:
        raise NotFound(SCAN_NOT_FOUND)
    scan, operative = found
    return ScanView(scan, operative, list(repository.evidence(scan.id)))


def get_evidence(session: Session, viewer: User, scan_id: uuid.UUID, name: str) -> MediaEvidence:
    if MediaScanRepository(session).get_visible(viewer, scan_id) is None:
        raise NotFound(SCAN_NOT_FOUND)
    item = MediaScanRepository(session).evidence_item(scan_id, name)
    if item is None:
        raise NotFound("Evidence not found")
    return item


def history(
    session: Session, viewer: User, filters: HistoryFilters
) -> tuple[list[tuple[MediaScan, str]], int, int]:
    if filters.start_date and filters.end_date and filters.start_date > filters.end_date:
        raise ValidationFailed("startDate is after endDate")
    rows, total = MediaScanRepository(session).history(viewer, filters)
    return rows, total, math.ceil(total / filters.limit) if total else 0


def delete_scan(
    context: AppContext, viewer: User, scan_id: uuid.UUID, *, origin: Origin | None = None
) -> None:
    if viewer.role != Role.ADMIN.value:
        raise Forbidden("Only admins delete scans")
    with context.db.session() as session:
        scan = MediaScanRepository(session).get(scan_id)
        if scan is None:
            raise NotFound(SCAN_NOT_FOUND)
        sha256 = scan.sha256
        audit.record(
            session,
            action="media.delete",
            actor=viewer,
            origin=origin,
            target_type="media_scan",
            target_id=scan.id,
            details={"filename": scan.file_name, "owner_id": str(scan.user_id)},
        )
        forget_scans(session, ScanKind.MEDIA, [scan.id])
        session.delete(scan)
        session.flush()
        with releasing_blob(session, context, sha256):
            session.commit()
    logger.info("media.deleted scan_id=%s by=%s", scan_id, viewer.id)


# What the domains working on a scan of either kind reach through scans.hooks.


def _ref(scan: MediaScan) -> ScanRef:
    return ScanRef(
        ScanKind.MEDIA,
        scan.id,
        scan.user_id,
        scan.file_name,
        scan.status,
        scan.result,
        None,
        scan.created_at,
        scan.completed_at,
    )


def _read(session: Session, viewer: User, scan_id: uuid.UUID) -> ScanRef:
    return _ref(get_scan(session, viewer, scan_id).scan)


def _load(session: Session, scan_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ScanRef]:
    found = MediaScanRepository(session).by_ids(scan_ids)
    return {scan_id: _ref(scan) for scan_id, scan in found.items()}


# Media scans keep a blob of their own: deleting a stored file leaves them (of_file: None).
register(ScanHooks(ScanKind.MEDIA, MediaScan, _read, _load))

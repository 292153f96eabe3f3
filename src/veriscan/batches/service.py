"""Batch uploads: several files in one request, each its own scan, followed together."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.requests import Request

from veriscan.accounts.models import Role, User
from veriscan.audit import service as audit
from veriscan.audit.service import Origin
from veriscan.batches.models import Batch, BatchKind
from veriscan.batches.repository import BatchRepository
from veriscan.context import AppContext
from veriscan.core.errors import NotFound, PayloadTooLarge, ValidationFailed, VeriscanError
from veriscan.files import service as files_service
from veriscan.files.models import File
from veriscan.malware import service as malware_service
from veriscan.malware.models import MalwareScan
from veriscan.media import service as media_service
from veriscan.media.models import MediaScan
from veriscan.uploads import (
    MAX_PART_HEADER_BYTES,
    MalformedUpload,
    ReceivedFile,
    ReceivedForm,
    TooManyFiles,
    UploadTooLarge,
    receive_form,
)

logger = logging.getLogger("veriscan.batches")

BATCH_NOT_FOUND = "Batch not found"
FILE_FIELDS = frozenset({"files", "file"})


@dataclass(frozen=True)
class ItemOutcome:
    index: int
    file_name: str
    scan_id: uuid.UUID | None = None
    file_id: uuid.UUID | None = None
    error: VeriscanError | None = None


@dataclass(frozen=True)
class BatchOutcome:
    batch: Batch
    items: list[ItemOutcome]


async def receive(
    context: AppContext, request: Request, too_large: Callable[[str], VeriscanError]
) -> ReceivedForm:
    """Stream every file part into a temporary blob of its own.

    More files than max_batch_files fail the whole request (TOO_MANY_FILES) as soon as
    the extra part begins, every blob received so far discarded. A file over the
    per-file limit is only marked, for its item to be rejected.
    """
    settings = context.settings
    limit = settings.max_upload_bytes
    count = settings.max_batch_files
    declared = request.headers.get("content-length")
    bound = count * (limit + MAX_PART_HEADER_BYTES) + files_service.FORM_OVERHEAD_BYTES
    if declared and declared.isdigit() and int(declared) > bound:
        raise too_large(
            f"Batch too large: at most {count} files of {settings.max_upload_mb} MB each"
        )
    try:
        form = await receive_form(
            request.stream(),
            request.headers.get("content-type"),
            open_writer=context.blobs.writer,
            file_fields=FILE_FIELDS,
            max_file_bytes=limit,
            max_files=count,
            tolerate_oversized=True,
        )
    except TooManyFiles:
        raise ValidationFailed(
            f"Too many files: a batch holds at most {count}", code="TOO_MANY_FILES"
        ) from None
    except MalformedUpload as exc:
        raise ValidationFailed(str(exc)) from None
    except UploadTooLarge:
        raise too_large(files_service.too_large_message(context)) from None
    if not form.files:
        raise ValidationFailed("No file part in the request")
    return form


def _precheck(
    context: AppContext, received: ReceivedFile, too_large: Callable[[str], VeriscanError]
) -> VeriscanError | None:
    """The single upload's checks that need no storing (files/service.receive_upload)."""
    if received.too_large:
        return too_large(files_service.too_large_message(context))
    if not received.filename.strip():
        return ValidationFailed("No selected file")
    if received.digests is not None and received.digests.size == 0:
        return ValidationFailed("The file is empty", code="EMPTY_FILE")
    return None


def _open_batch(context: AppContext, user: User, kind: BatchKind, count: int) -> Batch:
    with context.db.session() as session:
        return BatchRepository(session).add(
            Batch(user_id=user.id, kind=kind.value, file_count=count)
        )


def _close_batch(
    context: AppContext,
    user: User,
    batch_id: uuid.UUID,
    items: list[ItemOutcome],
    origin: Origin | None,
) -> Batch:
    rejected = sum(1 for item in items if item.error is not None)
    with context.db.session() as session:
        batch = BatchRepository(session).get(batch_id)
        assert batch is not None
        batch.accepted_count = len(items) - rejected
        batch.rejected_count = rejected
        audit.record(
            session,
            action="batch.upload",
            actor=user,
            origin=origin,
            target_type="batch",
            target_id=batch.id,
            details={
                "kind": batch.kind,
                "files": batch.file_count,
                "accepted": batch.accepted_count,
                "rejected": batch.rejected_count,
            },
        )
    logger.info(
        "batches.uploaded batch_id=%s kind=%s accepted=%d rejected=%d",
        batch.id,
        batch.kind,
        batch.accepted_count,
        batch.rejected_count,
    )
    return batch


def accept_media(
    context: AppContext,
    user: User,
    form: ReceivedForm,
    tags: list[str],
    *,
    origin: Origin | None = None,
) -> BatchOutcome:
    """Each file as POST /api/scans/upload takes it, without waiting for the analyses."""
    try:
        batch = _open_batch(context, user, BatchKind.MEDIA, len(form.files))
        items: list[ItemOutcome] = []
        for index, received in enumerate(form.files):
            name = received.filename
            error = _precheck(context, received, PayloadTooLarge)
            if error is None:
                try:
                    scan = media_service.accept(
                        context, user, received, tags, origin=origin, batch_id=batch.id
                    )
                except VeriscanError as exc:  # UNSUPPORTED_MEDIA
                    error = exc
                else:
                    items.append(ItemOutcome(index, name, scan_id=scan.id))
                    continue
            items.append(ItemOutcome(index, name, error=error))
        return BatchOutcome(_close_batch(context, user, batch.id, items, origin), items)
    finally:
        form.discard()  # what was not placed: rejected files (a no-op for the others)


def accept_files(
    context: AppContext, user: User, form: ReceivedForm, *, origin: Origin | None = None
) -> BatchOutcome:
    """Each file stored as POST /api/files/upload stores it, and its malware scan started."""
    try:
        batch = _open_batch(context, user, BatchKind.MALWARE, len(form.files))
        items: list[ItemOutcome] = []
        for index, received in enumerate(form.files):
            name = received.filename
            error = _precheck(context, received, files_service.file_too_large)
            if error is not None:
                items.append(ItemOutcome(index, name, error=error))
                continue
            file, scan = malware_service.store_and_scan(
                context, user, received, origin=origin, batch_id=batch.id
            )
            items.append(
                ItemOutcome(index, name, scan_id=scan.id if scan else None, file_id=file.id)
            )
        return BatchOutcome(_close_batch(context, user, batch.id, items, origin), items)
    finally:
        form.discard()


def accept_stored_media(
    context: AppContext,
    user: User,
    file_ids: list[str],
    tags: list[str],
    *,
    origin: Origin | None = None,
) -> BatchOutcome:
    """A media scan of each of the user's stored files that is an image, a video or a
    recording (the dashboard's one upload for both questions); the others are rejected
    items (UNSUPPORTED_MEDIA), as are ids that name no file of the user's (NOT_FOUND)."""
    count = context.settings.max_batch_files
    if len(file_ids) > count:
        raise ValidationFailed(
            f"Too many files: a batch holds at most {count}", code="TOO_MANY_FILES"
        )
    batch = _open_batch(context, user, BatchKind.MEDIA, len(file_ids))
    items: list[ItemOutcome] = []
    for index, raw in enumerate(file_ids):
        try:
            file_id = uuid.UUID(raw)
        except ValueError:
            items.append(ItemOutcome(index, "", error=NotFound(files_service.FILE_NOT_FOUND)))
            continue
        try:
            scan = media_service.accept_stored(
                context, user, file_id, tags, origin=origin, batch_id=batch.id
            )
        except VeriscanError as exc:  # NOT_FOUND, UNSUPPORTED_MEDIA
            name = _file_name(context, user, file_id)
            items.append(ItemOutcome(index, name, file_id=file_id if name else None, error=exc))
        else:
            items.append(ItemOutcome(index, scan.file_name, scan_id=scan.id, file_id=file_id))
    return BatchOutcome(_close_batch(context, user, batch.id, items, origin), items)


def _file_name(context: AppContext, user: User, file_id: uuid.UUID) -> str:
    """The user's file's name, or "" when the id names none of theirs."""
    with context.db.session(writes=False) as session:
        try:
            return files_service.get_file(session, user, file_id).filename
        except NotFound:
            return ""


@dataclass(frozen=True)
class BatchView:
    batch: Batch
    malware: list[tuple[MalwareScan, File]]
    media: list[MediaScan]


def get_batch(session: Session, viewer: User, batch_id: uuid.UUID) -> BatchView:
    """The owner's; a media batch is also the staff's, as media scans are (CONTRACT.md)."""
    repository = BatchRepository(session)
    batch = repository.get(batch_id)
    staff = viewer.role in (Role.ADMIN.value, Role.ANALYST.value)
    if batch is None or not (
        batch.user_id == viewer.id or (staff and batch.kind == BatchKind.MEDIA.value)
    ):
        raise NotFound(BATCH_NOT_FOUND)
    if batch.kind == BatchKind.MALWARE.value:
        return BatchView(batch, list(repository.malware_scans(batch.id)), [])
    return BatchView(batch, [], list(repository.media_scans(batch.id)))


def list_batches(
    session: Session, user: User, page: int, limit: int
) -> tuple[list[Batch], int, int]:
    rows, total = BatchRepository(session).page_for(user.id, page, limit)
    return rows, total, math.ceil(total / limit) if total else 0

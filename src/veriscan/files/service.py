"""Files: streamed uploads into content-addressed storage, listed and deleted per owner."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request

from veriscan.accounts.models import User
from veriscan.audit import service as audit
from veriscan.audit.service import Origin
from veriscan.context import AppContext
from veriscan.core.db import Base
from veriscan.core.errors import NotFound, ValidationFailed, VeriscanError
from veriscan.core.filenames import clean_filename
from veriscan.core.sniff import mime_type_of
from veriscan.files.models import File
from veriscan.files.repository import BlobRepository, FileRepository
from veriscan.files.schemas import FileOut
from veriscan.scans.cleanup import forget_scans_of_file
from veriscan.storage import BlobWriter
from veriscan.uploads import MalformedUpload, ReceivedFile, UploadTooLarge, receive_form

logger = logging.getLogger("veriscan.files")

FILE_NOT_FOUND = "File not found"
# Multipart framing around the file: boundaries and part headers, generously.
FORM_OVERHEAD_BYTES = 64 * 1024


def keep_blob(session: Session, context: AppContext, writer: BlobWriter) -> str:
    """Take a reference to a finished upload's content and move it into place."""
    assert writer.digests is not None
    BlobRepository(session).acquire(writer.digests.sha256, writer.digests.size)
    # The row lock taken above is held until commit, so no deletion of the same content
    # can run between here and the commit.
    context.blobs.place(writer)
    return writer.digests.sha256


@contextmanager
def releasing_blob(session: Session, context: AppContext, sha256: str) -> Iterator[None]:
    """Drop a reference inside the caller's transaction; remove the content after commit.

    Use around the commit: `with releasing_blob(...): session.commit()`.
    """
    grave: Path | None = None
    if BlobRepository(session).release(sha256) == 0:
        grave = context.blobs.bury(sha256)
    try:
        yield
    except BaseException:
        if grave is not None:
            context.blobs.restore(sha256, grave)
        raise
    if grave is not None:
        grave.unlink(missing_ok=True)


def too_large_message(context: AppContext) -> str:
    return f"File too large: the limit is {context.settings.max_upload_mb} MB"


def file_too_large(message: str) -> VeriscanError:
    """The VirusTotal document's answer to an upload over the limit: 400."""
    return ValidationFailed(message, code="FILE_TOO_LARGE")


async def receive_upload(
    context: AppContext,
    request: Request,
    too_large: Callable[[str], VeriscanError] = file_too_large,
) -> tuple[ReceivedFile, dict[str, str]]:
    """Stream the request's single `file` part into a temporary blob, hashing as it goes.

    Returns the file and the form's text fields. `too_large` makes the error for a file
    over the limit (the two API documents answer it differently).
    """
    limit = context.settings.max_upload_bytes
    message = too_large_message(context)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD_BYTES:
        raise too_large(message)
    try:
        form = await receive_form(
            request.stream(),
            request.headers.get("content-type"),
            open_writer=context.blobs.writer,
            max_file_bytes=limit,
        )
    except MalformedUpload as exc:
        raise ValidationFailed(str(exc)) from None
    except UploadTooLarge:
        raise too_large(message) from None
    if not form.files:
        raise ValidationFailed("No file part in the request")
    received = form.files[0]
    if not received.filename.strip():
        form.discard()
        raise ValidationFailed("No selected file")
    if received.digests is not None and received.digests.size == 0:
        # Nothing to scan or analyse: almost surely a failed upload on the client's side.
        form.discard()
        raise ValidationFailed("The file is empty", code="EMPTY_FILE")
    return received, form.fields


def new_file(user: User, received: ReceivedFile) -> File:
    """The received file's row, not yet in any session: built before the transaction that
    stores it, since on SQLite that transaction holds the one writer lock throughout."""
    assert received.writer is not None and received.writer.digests is not None
    digests = received.writer.digests
    return File(
        id=uuid.uuid4(),
        user_id=user.id,
        filename=clean_filename(received.filename),
        file_size=digests.size,
        mime_type=mime_type_of(bytes(received.head)),
        hash_md5=digests.md5,
        hash_sha1=digests.sha1,
        hash_sha256=digests.sha256,
    )


def store_in(
    session: Session,
    context: AppContext,
    user: User,
    file: File,
    received: ReceivedFile,
    *,
    origin: Origin | None = None,
) -> list[Base]:
    """The file's blob reference, in the caller's transaction, and the rows for it to
    insert: the file's (from `new_file`) and its audit event (`db.core_insert`). The
    caller discards the writer afterwards (a no-op once the blob was placed)."""
    writer = received.writer
    assert writer is not None and writer.digests is not None
    keep_blob(session, context, writer)
    event = audit.entry(
        action="file.upload",
        actor=user,
        origin=origin,
        target_type="file",
        target_id=file.id,
        details={"filename": file.filename, "size": file.file_size, "sha256": file.hash_sha256},
    )
    return [file, event]


def logged_upload(file: File) -> None:
    logger.info(
        "files.uploaded file_id=%s user_id=%s size=%d sha256=%s",
        file.id,
        file.user_id,
        file.file_size,
        file.hash_sha256,
    )


DEFAULT_PER_PAGE = 20
STREAM_BATCH = 500


@dataclass(frozen=True)
class FileListing:
    search: str | None = None
    digest: str | None = None
    page: int | None = None  # None: every file
    per_page: int | None = None


def count_files(session: Session, user: User, listing: FileListing) -> int:
    return FileRepository(session).count_for(user.id, search=listing.search, digest=listing.digest)


def page_of_files(
    session: Session, user: User, listing: FileListing
) -> tuple[list[dict[str, Any]], int]:
    """A page of the listing (page and per_page given) and the total."""
    assert listing.page is not None and listing.per_page is not None
    files, total = FileRepository(session).page(
        user.id,
        search=listing.search,
        digest=listing.digest,
        offset=(listing.page - 1) * listing.per_page,
        limit=listing.per_page,
    )
    return [FileOut.model_validate(file).model_dump(mode="json") for file in files], total


def stream_files(context: AppContext, user: User, listing: FileListing) -> Iterator[dict[str, Any]]:
    """Every file of the listing as the document's objects, read in batches (a server-side
    cursor on PostgreSQL), in a session of its own: the response outlives the request's."""
    with context.db.session(writes=False) as session:
        query = FileRepository(session).listing(
            user.id, search=listing.search, digest=listing.digest
        )
        for file in session.scalars(query.execution_options(yield_per=STREAM_BATCH)):
            yield FileOut.model_validate(file).model_dump(mode="json")


def get_file(session: Session, user: User, file_id: uuid.UUID) -> File:
    file = FileRepository(session).get_for(user.id, file_id)
    if file is None:
        raise NotFound(FILE_NOT_FOUND)
    return file


def delete_file(
    context: AppContext, user: User, file_id: uuid.UUID, *, origin: Origin | None = None
) -> None:
    with context.db.session() as session:
        file = get_file(session, user, file_id)
        sha256 = file.hash_sha256
        audit.record(
            session,
            action="file.delete",
            actor=user,
            origin=origin,
            target_type="file",
            target_id=file.id,
            details={"filename": file.filename, "sha256": sha256},
        )
        forget_scans_of_file(session, file.id)
        FileRepository(session).delete(file)
        with releasing_blob(session, context, sha256):
            session.commit()
    logger.info("files.deleted file_id=%s user_id=%s", file_id, user.id)

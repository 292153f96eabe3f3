"""Receiving a multipart ``file`` the way the stand-in needs: streamed, size-capped, and
always answered after the whole body was read."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from tests.vtstub.engines import Content
from tests.vtstub.objects import error

# Room for the multipart framing around the file before a body counts as too large.
_MULTIPART_SLACK = 64 * 1024


class _TooLarge(Exception):
    pass


async def drained(request: Request, response: Response) -> Response:
    """Read and drop an unread request body before answering, so a client still sending a
    large upload receives the answer instead of a connection reset."""
    if request.method in ("POST", "PUT", "PATCH"):
        try:
            async for _ in request.stream():
                pass
        except RuntimeError:  # the body was already read
            pass
    return response


async def receive_file(request: Request, limit: int) -> tuple[Content, str | None] | Response:
    """The content (hashes, size, markers) and name of the multipart ``file`` field, or the
    error to answer.

    The file is spooled to a temporary file by Starlette's parser (1 MB in memory at most)
    and hashed chunk by chunk, so it is never held whole in memory. More than ``limit``
    bytes: 413. VirusTotal's error table has no code for it (its front end answers 413
    itself); the stand-in still sends the usual error body.
    """
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await drained(request, error(400, "BadRequestError", "Expected multipart/form-data"))
    too_large = error(413, "RequestEntityTooLargeError", f"File larger than {limit} bytes")
    more_body = True

    async def body() -> AsyncGenerator[bytes, None]:
        # Read the ASGI messages directly (not request.stream()) to know, when giving up
        # on a too large body, whether there is more of it to drain.
        nonlocal more_body
        total = 0
        while more_body:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            chunk: bytes = message.get("body", b"")
            more_body = message.get("more_body", False)
            total += len(chunk)
            if total > limit + _MULTIPART_SLACK:
                raise _TooLarge  # the parser closes its temporary files on the way out
            if chunk:
                yield chunk

    stream = body()
    parser = MultiPartParser(request.headers, stream, max_files=1, max_fields=16)
    try:
        form = await parser.parse()
    except (_TooLarge, MultiPartException) as exc:
        # Read the rest before answering, so the client, still sending, gets the answer
        # instead of a connection reset.
        while more_body:
            message = await request.receive()
            more_body = message["type"] == "http.request" and message.get("more_body", False)
        if isinstance(exc, _TooLarge):
            return too_large
        return error(400, "BadRequestError", exc.message)
    finally:
        await stream.aclose()
    try:
        upload = form.get("file")
        if isinstance(upload, UploadFile) and (upload.size or 0) > limit:
            return too_large
        if not isinstance(upload, UploadFile):
            return error(400, "BadRequestError", 'A file is expected in the "file" field')
        await upload.seek(0)
        content = await run_in_threadpool(Content.of_stream, upload.file)
        return content, upload.filename
    finally:
        await form.close()

"""Receive a multipart/form-data body as a stream, files going straight into blob writers.

Starlette's own form parser spools each file to a temporary file first; here the file
part is hashed and written to its one temporary blob as it arrives, so an upload makes
no copy in memory or on disk besides the blob itself. Hashing and disk writes run on a
worker thread, pipelined with the receiving of the next chunks.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from veriscan.storage import BlobWriter, Digests

HEAD_BYTES = 64 * 1024  # kept from each file for content-type sniffing
FLUSH_BYTES = 1024 * 1024  # data handed to the lanes in pieces of this size
MAX_IN_FLIGHT = 4  # pieces queued for the lanes: bounds memory to ~4 MB
MAX_PARTS = 32
MAX_PART_HEADER_BYTES = 16 * 1024
MAX_FIELD_BYTES = 64 * 1024  # all non-file fields together
# Everything a form may hold besides its files: fields, part headers and boundaries.
MAX_FORM_OVERHEAD_BYTES = MAX_FIELD_BYTES + MAX_PARTS * (MAX_PART_HEADER_BYTES + 512)


class MalformedUpload(Exception):
    """The body is not a multipart form this service accepts."""


class UploadTooLarge(Exception):
    """A file part, or the form as a whole, is larger than the configured limit allows."""


class TooManyFiles(MalformedUpload):
    """The form holds more file parts than allowed."""


@dataclass
class ReceivedFile:
    field_name: str
    filename: str
    declared_type: str | None
    head: bytearray = field(default_factory=bytearray)
    writer: BlobWriter | None = None
    digests: Digests | None = None
    # Set instead of failing the form when oversized files are tolerated (batches): the
    # blob then holds only the first max_file_bytes and is to be discarded.
    too_large: bool = False


@dataclass
class ReceivedForm:
    files: list[ReceivedFile]
    fields: dict[str, str]

    def discard(self) -> None:
        for received in self.files:
            if received.writer is not None:
                received.writer.discard()


def _form_filename(raw: bytes) -> str:
    """The file name as the user's system had it.

    Browsers (the HTML standard's form-data encoding) and httpx send a double quote as
    %22 and CR, LF as %0D, %0A inside the quoted file name; only those three are undone.
    """
    name = raw.decode("utf-8", "replace")
    for escaped, char in (("%22", '"'), ("%0D", "\r"), ("%0A", "\n")):
        name = name.replace(escaped, char).replace(escaped.lower(), char)
    return name


def boundary_of(content_type: str | None) -> bytes:
    if not content_type:
        raise MalformedUpload("Content-Type must be multipart/form-data")
    media_type, options = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise MalformedUpload("Content-Type must be multipart/form-data")
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise MalformedUpload("multipart/form-data without a valid boundary")
    return bytes(boundary)


class _Receiver:
    def __init__(
        self,
        open_writer: Callable[[], BlobWriter],
        file_fields: frozenset[str],
        max_file_bytes: int,
        max_files: int,
        tolerate_oversized: bool = False,
    ) -> None:
        self.open_writer = open_writer
        self.file_fields = file_fields
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self.tolerate_oversized = tolerate_oversized
        # Room for every file part besides the usual fields.
        self.max_parts = MAX_PARTS + max_files - 1
        self.files: list[ReceivedFile] = []
        self.fields: dict[str, str] = {}
        self.field_bytes = 0
        self.parts = 0
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._header_bytes = 0
        self._current_file: ReceivedFile | None = None
        self._current_field: tuple[str, bytearray] | None = None
        self._current_size = 0
        # File data not yet handed to the writer thread, in order, per writer.
        self.segments: deque[tuple[BlobWriter, bytearray]] = deque()
        self.ended = False

    # parser callbacks -------------------------------------------------------------
    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.max_parts:
            raise MalformedUpload(f"too many parts in the form (at most {self.max_parts})")
        self._headers = {}
        self._header_bytes = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise MalformedUpload("a form part has no Content-Disposition name")
        name = options[b"name"].decode("utf-8", "replace")
        self._current_size = 0
        if b"filename" in options or name in self.file_fields:
            if name not in self.file_fields:
                raise MalformedUpload(f"unexpected file field {name!r}")
            if len(self.files) >= self.max_files:
                raise TooManyFiles(f"too many files (at most {self.max_files})")
            content_type = self._headers.get(b"content-type")
            received = ReceivedFile(
                field_name=name,
                filename=_form_filename(options.get(b"filename", b"")),
                declared_type=content_type.decode("latin-1") if content_type else None,
            )
            received.writer = self.open_writer()
            self.files.append(received)
            self._current_file = received
        else:
            self._current_field = (name, bytearray())

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        self._current_size += size
        if self._current_file is not None:
            if self._current_size > self.max_file_bytes:
                if not self.tolerate_oversized:
                    raise UploadTooLarge
                self._current_file.too_large = True
                return
            head = self._current_file.head
            if len(head) < HEAD_BYTES:
                head += memoryview(data)[start : min(end, start + HEAD_BYTES - len(head))]
            writer = self._current_file.writer
            assert writer is not None
            if not self.segments or self.segments[-1][0] is not writer:
                self.segments.append((writer, bytearray()))
            # A memoryview slice: the bytes are copied once, into the segment.
            self.segments[-1][1].extend(memoryview(data)[start:end])
        elif self._current_field is not None:
            self.field_bytes += size
            if self.field_bytes > MAX_FIELD_BYTES:
                raise MalformedUpload("form fields are too long")
            self._current_field[1].extend(data[start:end])

    def on_part_end(self) -> None:
        if self._current_field is not None:
            name, value = self._current_field
            self.fields.setdefault(name, value.decode("utf-8", "replace"))
        self._current_field = None
        self._current_file = None

    def ready_segments(self, final: bool) -> list[tuple[BlobWriter, bytearray]]:
        """Segments to write now: all but a small tail of the part still arriving, once
        FLUSH_BYTES are waiting (or at the end). Until then nothing: a small form, even one
        whose file part has ended, is written whole at its end in one hop, rather than
        starting three lane threads for a few kilobytes."""
        if not final and sum(len(data) for _, data in self.segments) < FLUSH_BYTES:
            return []
        ready = []
        while self.segments:
            writer, data = self.segments[0]
            still_arriving = self._current_file is not None and writer is self._current_file.writer
            if still_arriving and not final and len(data) < FLUSH_BYTES:
                break
            ready.append(self.segments.popleft())
        return ready

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_PART_HEADER_BYTES:
            raise MalformedUpload("a form part's headers are too long")

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_end(self) -> None:
        self.ended = True


async def receive_form(
    stream: AsyncIterator[bytes],
    content_type: str | None,
    *,
    open_writer: Callable[[], BlobWriter],
    file_fields: frozenset[str] = frozenset({"file"}),
    max_file_bytes: int,
    max_files: int = 1,
    tolerate_oversized: bool = False,
) -> ReceivedForm:
    """Read the whole form; file parts end up finished (fsynced) in temporary blobs.

    With `tolerate_oversized`, a file over max_file_bytes is marked `too_large` (and the
    rest of its data dropped) rather than failing the whole form.

    On any error, including the client going away, every temporary blob is removed
    before the exception propagates.
    """
    boundary = boundary_of(content_type)
    receiver = _Receiver(open_writer, file_fields, max_file_bytes, max_files, tolerate_oversized)
    parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    # An upload that needs it gets a thread per lane of BlobWriter (md5, sha1 and sha256,
    # the disk): single-thread executors keep every lane's pieces in order while the lanes
    # run side by side.
    # A form that arrives whole before any piece is ready (a small file) needs none:
    # one hop to the loop's shared pool writes, hashes and finishes it.
    in_flight: deque[asyncio.Future[None]] = deque()
    lane_threads: list[ThreadPoolExecutor] = []

    async def hand_off(final: bool) -> None:
        ready = receiver.ready_segments(final)
        if ready and not lane_threads:
            lane_threads.extend(
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="veriscan-upload")
                for _ in ready[0][0].lanes()
            )
        for writer, data in ready:
            for thread, lane in zip(lane_threads, writer.lanes(), strict=True):
                in_flight.append(loop.run_in_executor(thread, lane, data))
            while len(in_flight) > len(lane_threads) * MAX_IN_FLIGHT:
                await in_flight.popleft()

    def write_whole() -> None:
        for writer, data in receiver.ready_segments(final=True):
            writer.write(data)
        for received in receiver.files:
            assert received.writer is not None
            received.digests = received.writer.finish()

    form = ReceivedForm(receiver.files, receiver.fields)
    # The parser ignores whatever follows the closing boundary; without this bound a
    # chunked body (no Content-Length to refuse up front) could go on for ever.
    max_body_bytes = (
        max_files * max_file_bytes
        + MAX_FORM_OVERHEAD_BYTES
        + (max_files - 1) * (MAX_PART_HEADER_BYTES + 512)
    )
    body_bytes = 0
    try:
        async for chunk in stream:
            if not chunk:
                continue
            body_bytes += len(chunk)
            if body_bytes > max_body_bytes:
                raise UploadTooLarge
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise MalformedUpload(f"malformed multipart body: {exc}") from exc
            await hand_off(final=False)
        try:
            parser.finalize()
        except MultipartParseError as exc:
            raise MalformedUpload(f"malformed multipart body: {exc}") from exc
        if not receiver.ended:
            raise MalformedUpload("the multipart body ended before its closing boundary")
        if not lane_threads:
            await loop.run_in_executor(None, write_whole)
            return form
        await hand_off(final=True)
        while in_flight:
            await in_flight.popleft()
        for received in receiver.files:
            assert received.writer is not None
            received.digests = await loop.run_in_executor(lane_threads[0], received.writer.finish)
        return form
    except BaseException:
        for future in in_flight:
            await asyncio.wait([future])
        # On the disk lane's thread, after any piece still queued there: a piece whose
        # future was being awaited when this request was cancelled is not in `in_flight`,
        # and must not make or write the file after the discard.
        await loop.run_in_executor(lane_threads[-1] if lane_threads else None, form.discard)
        raise
    finally:
        for thread in lane_threads:
            thread.shutdown(wait=False)

"""Content types from the bytes themselves (libmagic), never from names or headers."""

from __future__ import annotations

import threading

import magic

_lock = threading.Lock()
_magic: magic.Magic | None = None


def mime_type_of(head: bytes) -> str:
    global _magic
    with _lock:  # a libmagic handle is not safe to share between threads
        if _magic is None:
            _magic = magic.Magic(mime=True)
        detected = _magic.from_buffer(head) if head else "application/x-empty"
    return str(detected or "application/octet-stream")

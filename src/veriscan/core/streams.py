"""Response bodies written as their rows arrive: constant memory whatever the row count."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def json_array(items: Iterable[Any]) -> Iterator[bytes]:
    """A JSON array written as the items arrive: one line per item."""
    yield b"["
    separator = b"\n"
    for item in items:
        yield separator + json.dumps(item, ensure_ascii=False).encode("utf-8")
        separator = b",\n"
    yield b"\n]\n"


def buffered(chunks: Iterable[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """Chunks joined up to about `size` bytes: a send per row would cost more than the row."""
    pending: list[bytes] = []
    length = 0
    for chunk in chunks:
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield b"".join(pending)
            pending, length = [], 0
    if pending:
        yield b"".join(pending)

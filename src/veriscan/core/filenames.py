"""Names that clients give files: kept for display, never trusted as paths."""

from __future__ import annotations

import unicodedata

from pathvalidate import sanitize_filename

MAX_NAME_BYTES = 255
FALLBACK_NAME = "unnamed"


def clean_filename(raw: str) -> str:
    """The last path component, without control characters or reserved names."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = unicodedata.normalize("NFC", name).strip().strip(".")
    name = sanitize_filename(name, platform="universal", max_len=MAX_NAME_BYTES)
    # Again: sanitising can leave dots at an end (". . ." becomes ".").
    name = name.strip(" .")
    return name or FALLBACK_NAME

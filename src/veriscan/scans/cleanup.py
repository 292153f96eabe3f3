"""What goes with a deleted scan: rows of other domains that point at it without a
foreign key (shares, assignment, case entries, comments). Each of those domains registers
how to delete its rows when imported; the scans' own domains call `forget_scans` in the
transaction that deletes the scans.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from veriscan.scans import ScanKind
from veriscan.scans.hooks import registered

# Deletes the rows about these scans (of one kind), in the caller's transaction.
Forget = Callable[[Session, ScanKind, list[uuid.UUID]], None]

# The domains that keep rows about scans, each registering when imported (app.py imports
# them all); deleting a scan before one registered would leave its rows behind.
FORGETTERS = ("sharing", "cases", "comments")

_forgetters: dict[str, Forget] = {}


def register_forget(name: str, forget: Forget) -> None:
    assert name in FORGETTERS, name
    _forgetters[name] = forget


def forgetters() -> list[Forget]:
    missing = [name for name in FORGETTERS if name not in _forgetters]
    if missing:
        raise LookupError(f"not registered with scans.cleanup: {', '.join(missing)}")
    return [_forgetters[name] for name in FORGETTERS]


def forget_scans(session: Session, kind: ScanKind, scan_ids: Sequence[uuid.UUID]) -> None:
    """Delete what points at the scans (in the caller's transaction, with the scans)."""
    ids = list(scan_ids)
    if not ids:
        return
    for forget in forgetters():
        forget(session, kind, ids)


def forget_scans_of_file(session: Session, file_id: uuid.UUID) -> None:
    """Before a stored file is deleted (its scans go with it): what points at them."""
    for hooks in registered():
        if hooks.of_file is not None:
            forget_scans(session, hooks.kind, hooks.of_file(session, file_id))

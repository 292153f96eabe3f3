"""What each kind of scan registers when its package is imported (malware/service.py,
media/service.py), so that the domains below them reach a scan of either kind without
importing them.

A kind that is asked for before it registered is a wiring error, said as such: the web
application imports both (through their endpoints).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from veriscan.accounts.models import User
from veriscan.scans import ScanKind, ScanRef


@dataclass(frozen=True)
class ScanHooks:
    kind: ScanKind
    # The ORM class of the kind's scans: its `id` and `user_id` (the owner) columns are
    # what access.visible reads.
    table: Any
    # The scan if the viewer may read it; NotFound with the kind's own message otherwise.
    read: Callable[[Session, User, uuid.UUID], ScanRef]
    # The scans of these ids that exist, by id, whoever may read them (the caller checked).
    load: Callable[[Session, Sequence[uuid.UUID]], dict[uuid.UUID, ScanRef]]
    # The ids of the scans made of a stored file (deleted with it); None: no such scans.
    of_file: Callable[[Session, uuid.UUID], list[uuid.UUID]] | None = None


_registered: dict[ScanKind, ScanHooks] = {}


def register(hooks: ScanHooks) -> None:
    _registered[hooks.kind] = hooks


def hooks_for(kind: ScanKind) -> ScanHooks:
    try:
        return _registered[kind]
    except KeyError:
        raise LookupError(
            f"no hooks registered for {kind.value} scans: import veriscan.{kind.value}.service"
        ) from None


def registered() -> list[ScanHooks]:
    return list(_registered.values())

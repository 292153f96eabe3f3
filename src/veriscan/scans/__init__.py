"""What both kinds of scan share, low in the stack, so that the domains working on "a scan
of either kind" (comments, sharing, cases, notifications, batches, reports, files) depend
on this package and never on malware's or media's models, nor on each other upward:

- `ScanKind` and `ScanRef`, a scan of either kind as those domains see it (here);
- `hooks.py`: what malware and media register when imported: how to read a scan of
  their kind, load several, and find those of a stored file;
- `access.py`: who may read or manage a scan, with the grants (shares, assignment, cases)
  that sharing and cases register;
- `cleanup.py`: what goes with a deleted scan, registered by the domains keeping rows
  about scans.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime


class ScanKind(enum.StrEnum):
    MALWARE = "malware"
    MEDIA = "media"


@dataclass(frozen=True)
class ScanRef:
    """A scan of either kind: which one, whose, its file's name (its title wherever it is
    named) and where it stands."""

    kind: ScanKind
    id: uuid.UUID
    owner_id: uuid.UUID
    file_name: str
    status: str
    verdict: str | None  # media: the verdict
    detection_ratio: str | None  # malware: "3/70"
    created_at: datetime
    completed_at: datetime | None

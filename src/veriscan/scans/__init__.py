"""What both kinds of scan share, low in the stack: for now, the kind itself.

Comments, sharing, cases, files and both scan domains name a scan by its kind and id; the
kind lives here so that none of them imports another to name it. Issue 17 is to move the
rest of "a scan of either kind" here too: who may read one, and how to load one.
"""

from __future__ import annotations

import enum


class ScanKind(enum.StrEnum):
    MALWARE = "malware"
    MEDIA = "media"

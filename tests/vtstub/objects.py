"""What the stand-in remembers of files and analyses, and their JSON as VirusTotal sends it.

Shapes: docs.virustotal.com/reference/files (file object), /analyses-object and
/analysis (analysis object, with ``meta.file_info`` beside ``data``), /user-object,
/files-scan and /files-analyse (the ``{"data": {"type": "analysis", "id"}}`` descriptor),
/errors (``{"error": {"code", "message"}}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

from tests.vtstub.engines import ENGINES, Content, stats
from tests.vtstub.quota import KeyAccount


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


@dataclass
class FileRecord:
    content: Content
    first_submission: int
    last_submission: int
    times_submitted: int = 0
    names: list[str] = field(default_factory=list)
    # (date, results) of the latest completed analysis. None: not yet found by /files/{id}.
    last_analysis: tuple[int, dict[str, dict[str, Any]]] | None = None
    last_modification: int = 0

    def to_json(self, base: str) -> dict[str, Any]:
        assert self.last_analysis is not None
        info, (date, results) = self.content, self.last_analysis
        return {
            "data": {
                "type": "file",
                "id": info.sha256,
                "links": {"self": f"{base}/files/{info.sha256}"},
                "attributes": {
                    "sha256": info.sha256,
                    "sha1": info.sha1,
                    "md5": info.md5,
                    "size": info.size,
                    "names": list(self.names),
                    "meaningful_name": self.names[0] if self.names else info.sha256,
                    "type_description": "unknown",
                    "tags": [],
                    "times_submitted": self.times_submitted,
                    "first_submission_date": self.first_submission,
                    "last_submission_date": self.last_submission,
                    "last_modification_date": self.last_modification,
                    "last_analysis_date": date,
                    "last_analysis_results": results,
                    "last_analysis_stats": stats(results.values()),
                    "reputation": 0,
                    "total_votes": {"harmless": 0, "malicious": 0},
                },
            }
        }


@dataclass
class AnalysisRecord:
    id: str
    content: Content
    date: int  # unix time: the analysis' "date" attribute
    created: float  # stub clock, for complete_after_seconds
    results: dict[str, dict[str, Any]]  # the final results, computed at submission
    polls: int = 0
    completed: bool = False

    def descriptor(self, base: str) -> dict[str, Any]:
        """What POST /files, the upload URL and POST /files/{id}/analyse answer."""
        return {
            "data": {
                "type": "analysis",
                "id": self.id,
                "links": {"self": f"{base}/analyses/{self.id}"},
            }
        }

    def to_json(self, base: str) -> dict[str, Any]:
        """The analysis as it stands: "queued" on its first poll, then "in-progress" with
        part of the engines' results (clients must not read a verdict from it), then
        "completed" with them all."""
        if self.completed:
            status, results = "completed", self.results
        elif self.polls <= 1:
            status, results = "queued", {}
        else:
            done = {engine.name for engine in ENGINES[: len(ENGINES) // 2]}
            status = "in-progress"
            results = {name: r for name, r in self.results.items() if name in done}
        sha256 = self.content.sha256
        return {
            "data": {
                "type": "analysis",
                "id": self.id,
                "links": {"self": f"{base}/analyses/{self.id}", "item": f"{base}/files/{sha256}"},
                "attributes": {
                    "date": self.date,
                    "status": status,
                    "stats": stats(results.values()),
                    "results": results,
                },
            },
            "meta": {"file_info": self.content.file_info()},
        }


def user_json(account: KeyAccount, quotas: dict[str, Any], base: str, since: int) -> dict[str, Any]:
    premium = account.kind == "premium"
    return {
        "data": {
            "type": "user",
            "id": account.user_id,
            "links": {"self": f"{base}/users/{account.user_id}"},
            "attributes": {
                "apikey": account.key,
                "email": f"{account.user_id}@example.invalid",
                "first_name": "Stub",
                "last_name": "User",
                "has_2fa": False,
                "last_login": since,
                "user_since": since,
                "profile_phrase": "",
                "reputation": 0,
                "status": "active",
                "preferences": {},
                "privileges": {
                    name: {"granted": premium, "expiration_date": 0}
                    for name in ("intelligence", "private_scanning")
                },
                "quotas": quotas,
            },
        }
    }

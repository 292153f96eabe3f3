"""OpenAPI helpers: every documented error answers in the envelope."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel

# An id in a path. Checked by the services (a malformed one is a 400 in the envelope);
# the schema says it is a UUID so that clients, and fuzzers, know.
ResourceId = Annotated[str, Path(json_schema_extra={"format": "uuid"})]
# Text that is not blank once trimmed: one character Python's str.strip() keeps. Spelled
# out because JSON Schema's \S (ECMAScript) and Python disagree (U+0085, U+001C-U+001F are
# whitespace to Python only): with \S the schema allowed what the service then refused.
NOT_BLANK = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# Which scans a listing holds (scans.access): all the caller may read, or one source.
Scope = Literal["all", "own", "shared", "assigned"]

# Listing filters shared by files and malware scans: a file name part, and a hash.
DIGEST_PATTERN = r"^\s*([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})\s*$"
NameSearch = Annotated[
    str | None, Query(max_length=255, description="Part of the file name, any case")
]
DigestFilter = Annotated[
    str | None,
    Query(
        max_length=80, pattern=DIGEST_PATTERN, description="An exact MD5, SHA-1 or SHA-256 (hex)"
    ),
]
# A query bound that is a date (a whole day) or a date-time (core/dates.py), or empty for
# none; replaces the schema of an optional string parameter.
DATE_OR_DATE_TIME: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "maxLength": 0},
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time", "maxLength": 40},
        {"type": "null"},
    ]
}

_DESCRIPTIONS = {
    400: "Invalid request",
    401: "Missing, invalid, expired or revoked token",
    403: "Not allowed for this role",
    404: "Not found",
    409: "Already exists",
    413: "File too large",
    429: "Rate limit exceeded",
}


class ErrorBody(BaseModel):
    message: str
    code: str
    statusCode: int
    timestamp: str


class ErrorEnvelope(BaseModel):
    success: bool = False
    error: ErrorBody


def errors(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"model": ErrorEnvelope, "description": _DESCRIPTIONS.get(code, "Error")}
        for code in (*status_codes, 429)
    }


def multipart_upload(**fields: dict[str, Any]) -> dict[str, Any]:
    """The request body of an upload: a required `file` part, plus optional text fields."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}, **fields},
                    }
                }
            },
        }
    }


def multipart_batch(**fields: dict[str, Any]) -> dict[str, Any]:
    """The request body of a batch upload: several `files` parts, plus optional text fields."""
    files = {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["files"],
                        "properties": {"files": files, **fields},
                    }
                }
            },
        }
    }

"""OpenAPI helpers: every documented error answers in the envelope."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

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

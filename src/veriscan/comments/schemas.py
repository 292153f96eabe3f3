from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from veriscan.openapi import NOT_BLANK

# Trimmed, then 1-5000 characters (NOT_BLANK: not only whitespace).
CommentText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000, pattern=NOT_BLANK)
]


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: CommentText


class CommentOut(BaseModel):
    id: str
    scanKind: Literal["malware", "media"]
    scanId: str
    authorId: str | None
    authorUsername: str
    body: str
    createdAt: str
    editedAt: str | None


class CommentEnvelope(BaseModel):
    success: bool = True
    data: CommentOut


class CommentPagination(BaseModel):
    total: int
    page: int
    limit: int
    pages: int


class CommentListEnvelope(BaseModel):
    success: bool = True
    data: list[CommentOut]
    pagination: CommentPagination


class CommentDeletedEnvelope(BaseModel):
    success: bool = True
    message: str

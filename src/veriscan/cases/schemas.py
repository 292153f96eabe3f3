from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from veriscan.cases.models import CasePriority, CaseStatus
from veriscan.openapi import NOT_BLANK
from veriscan.scans import ScanKind
from veriscan.sharing.schemas import UserChoice

# Trimmed, then within bounds (NOT_BLANK: not only whitespace).
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK)
]
Description = Annotated[str, StringConstraints(max_length=10_000)]
NoteText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000, pattern=NOT_BLANK)
]
Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=NOT_BLANK)
]


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    priority: CasePriority = CasePriority.MEDIUM
    ownerId: uuid.UUID | None = None  # null: the caller
    memberIds: Annotated[list[uuid.UUID], Field(max_length=50)] = []


class CaseUpdate(BaseModel):
    # At least one field: said in the schema too, so that clients and fuzzers know.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    title: Title | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    status: CaseStatus | SkipJsonSchema[None] = None
    priority: CasePriority | SkipJsonSchema[None] = None
    ownerId: uuid.UUID | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _one_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("No update data provided")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self


# Who to add: by id or by username, exactly one of them (as for sharing a scan).
MemberAdd = UserChoice


class ScanAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scanKind: ScanKind
    scanId: uuid.UUID


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: NoteText


class UserRef(BaseModel):
    id: str
    username: str


class OwnerOut(BaseModel):
    id: str
    username: str
    name: str


class MemberOut(BaseModel):
    id: str
    username: str
    name: str
    role: str  # the member's account role: operative, analyst or admin
    addedAt: str


class CaseScanOut(BaseModel):
    scanKind: Literal["malware", "media"]
    scanId: str
    fileName: str
    status: str
    verdict: str | None  # media scans: AUTHENTIC, SUSPICIOUS or DEEPFAKE once completed
    detectionRatio: str | None  # malware scans: "malicious/with verdict"
    addedAt: str
    addedBy: UserRef | None


class CaseSummary(BaseModel):
    id: str
    title: str
    status: CaseStatus
    priority: CasePriority
    owner: OwnerOut
    scanCount: int
    memberCount: int
    createdAt: str
    updatedAt: str
    closedAt: str | None


class CaseDetail(CaseSummary):
    description: str
    createdBy: UserRef | None
    members: list[MemberOut]
    scans: list[CaseScanOut]
    # Scans in the case the caller does not read (an admin taking no part in the case
    # does not read other users' malware scans in it): counted, not shown.
    hiddenScans: int = 0


class NoteOut(BaseModel):
    id: str
    body: str
    authorId: str | None
    authorUsername: str
    createdAt: str


class TimelineEntry(BaseModel):
    at: str
    action: str
    actor: UserRef | None
    details: dict[str, Any]


class Pagination(BaseModel):
    total: int
    page: int
    limit: int
    pages: int


class CaseEnvelope(BaseModel):
    success: bool = True
    data: CaseDetail


class CaseListEnvelope(BaseModel):
    success: bool = True
    data: list[CaseSummary]
    pagination: Pagination


class CaseScanEnvelope(BaseModel):
    success: bool = True
    data: CaseScanOut


class MemberEnvelope(BaseModel):
    success: bool = True
    data: MemberOut


class NoteEnvelope(BaseModel):
    success: bool = True
    data: NoteOut


class NoteListEnvelope(BaseModel):
    success: bool = True
    data: list[NoteOut]
    pagination: Pagination


class TimelineEnvelope(BaseModel):
    success: bool = True
    data: list[TimelineEntry]
    pagination: Pagination


class MessageEnvelope(BaseModel):
    success: bool = True
    message: str

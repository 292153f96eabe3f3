from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ItemError(BaseModel):
    code: str
    message: str


class BatchItem(BaseModel):
    """One file of a batch upload: accepted (its scan started) or rejected (why)."""

    index: int
    fileName: str
    status: Literal["accepted", "rejected"]
    scanId: str | None = None
    fileId: str | None = None  # malware batches: the stored file
    error: ItemError | None = None


class BatchUpload(BaseModel):
    batchId: str
    total: int
    accepted: int
    rejected: int
    items: list[BatchItem]


class BatchUploadEnvelope(BaseModel):
    success: bool = True
    data: BatchUpload


class BatchSummary(BaseModel):
    pending: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0


class BatchScan(BaseModel):
    scanId: str
    fileName: str
    status: str
    fileId: str | None = None
    detectionRatio: str | None = None  # malware
    result: str | None = None  # media
    riskScore: int | None = None  # media


class BatchDetail(BaseModel):
    batchId: str
    kind: Literal["malware", "media"]
    createdAt: str
    total: int
    accepted: int
    rejected: int
    summary: BatchSummary
    scans: list[BatchScan]


class BatchEnvelope(BaseModel):
    success: bool = True
    data: BatchDetail


class BatchListItem(BaseModel):
    batchId: str
    kind: Literal["malware", "media"]
    createdAt: str
    total: int
    accepted: int
    rejected: int


class BatchPagination(BaseModel):
    total: int
    page: int
    limit: int
    pages: int


class BatchListEnvelope(BaseModel):
    success: bool = True
    data: list[BatchListItem]
    pagination: BatchPagination


class StoredMediaScans(BaseModel):
    """Media scans of files already stored (the dashboard's one upload for both questions)."""

    fileIds: list[str] = Field(
        min_length=1, max_length=1000, description="Ids of the caller's files (GET /api/files/)"
    )
    tags: str | None = Field(
        default=None, max_length=2000, description="Comma-separated tags, given to every scan"
    )

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class GpsOut(BaseModel):
    latitude: float
    longitude: float


class EvidenceOut(BaseModel):
    name: str
    caption: str
    url: str


class ScanDetail(BaseModel):
    id: str
    fileName: str
    mediaType: str
    fileSize: int
    status: str
    result: str | None
    riskScore: int | None
    confidence: int | None
    videoScore: int | None
    audioScore: int | None
    ganFingerprint: int | None
    temporalConsistency: int | None
    explanation: str
    metadata: dict[str, Any]
    gpsCoordinates: GpsOut | None
    hash: str
    timestamp: str
    operative: str
    tags: list[str]
    progress: int
    stage: str
    error: str | None = None
    evidence: list[EvidenceOut] = Field(default_factory=list)


class ScanEnvelope(BaseModel):
    success: bool = True
    data: ScanDetail


class HistoryItem(BaseModel):
    id: str
    fileName: str
    type: str
    result: str | None
    score: int | None
    timestamp: str
    operative: str
    status: str


class HistoryPagination(BaseModel):
    total: int
    page: int
    limit: int
    pages: int


class HistoryEnvelope(BaseModel):
    success: bool = True
    data: list[HistoryItem]
    pagination: HistoryPagination


class DeletedEnvelope(BaseModel):
    success: bool = True
    message: str


SortBy = Literal["date", "confidence", "riskScore", "fileName"]
SortOrder = Literal["asc", "desc"]
StatusFilter = Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED"]
MediaTypeFilter = Literal["VIDEO", "IMAGE", "AUDIO"]
VerdictFilter = Literal["DEEPFAKE", "SUSPICIOUS", "AUTHENTIC"]

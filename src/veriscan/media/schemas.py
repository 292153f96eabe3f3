from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from veriscan.openapi import NOT_BLANK


class GpsOut(BaseModel):
    latitude: float
    longitude: float


class EvidenceOut(BaseModel):
    name: str
    caption: str
    url: str


class FrameOut(BaseModel):
    time: float = Field(description="Seconds from the start")
    score: int | None = Field(description="The frame's image-level risk, 0-100")
    faces: int


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
    frames: list[FrameOut] | None = Field(
        default=None,
        description="A video's sampled frames (additive): where each was taken and its risk; "
        "null for other media",
    )


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
    hash: str = Field(description="The file's SHA-256 (additive: the original backend's field)")


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


# A tag as the edit takes it: trimmed, then 1-50 characters (NOT_BLANK: not only spaces).
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=NOT_BLANK)
]


class TagsReplace(BaseModel):
    """The scan's tags become these."""

    model_config = ConfigDict(extra="forbid")

    tags: list[Tag] = Field(max_length=20)


class TagsChange(BaseModel):
    """Tags removed, then added, to the scan's own."""

    model_config = ConfigDict(extra="forbid")

    add: list[Tag] = Field(default_factory=list, max_length=20)
    remove: list[Tag] = Field(default_factory=list, max_length=100)

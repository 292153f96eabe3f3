from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class FileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    filename: str
    file_size: int
    mime_type: str
    hash_md5: str
    hash_sha1: str
    hash_sha256: str
    upload_date: datetime


class MessageResponse(BaseModel):
    message: str


class UploadScan(BaseModel):
    scan_id: uuid.UUID | None
    status: str
    message: str


class UploadedFile(FileOut):
    scan: UploadScan

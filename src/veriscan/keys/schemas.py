from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from veriscan.openapi import NOT_BLANK

KeyName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NOT_BLANK)
]
# VirusTotal keys are 64 hex characters today; accept any plausible token (visible ASCII:
# it travels in an HTTP header) and let VirusTotal say whether it is valid.
KeyValue = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=256, pattern=r"^[\x21-\x7e]+$"
    ),
]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: KeyName
    key_value: KeyValue


class KeyUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: KeyName | None = None
    key_value: KeyValue | None = None
    # Strict: true or false, not 0/1 or "yes" (the schema says boolean).
    is_active: StrictBool | None = None


class KeyValidateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key_value: KeyValue


class ApiKeyOut(BaseModel):
    """A key as clients see it: never its value."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    is_active: bool
    status: str = Field(description="What VirusTotal last said: valid, invalid or unverified")
    last_validated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyOut]


class ApiKeyEnvelope(BaseModel):
    api_key: ApiKeyOut


class ApiKeyMessage(BaseModel):
    message: str
    api_key: ApiKeyOut


class KeyValidateResponse(BaseModel):
    valid: bool
    status: str = Field(description="valid, invalid or unreachable")
    message: str

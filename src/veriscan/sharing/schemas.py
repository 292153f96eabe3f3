from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

Username = Annotated[str, StringConstraints(min_length=1, max_length=50)]


def _exactly_one_of(schema: dict[str, Any]) -> None:
    schema["oneOf"] = [{"required": ["userId"]}, {"required": ["username"]}]


class UserChoice(BaseModel):
    """A user named by id or by username: exactly one of the two (said in the schema too,
    so that clients and fuzzers know)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one_of)

    userId: uuid.UUID | SkipJsonSchema[None] = None
    username: Username | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if len(self.model_fields_set) != 1 or (self.userId is None and self.username is None):
            raise ValueError("Give exactly one of userId and username")
        return self


class UserOut(BaseModel):
    id: str
    username: str
    name: str
    role: Literal["admin", "analyst", "operative"]


class ShareOut(BaseModel):
    scanKind: Literal["malware", "media"]
    scanId: str
    user: UserOut
    sharedBy: str | None
    createdAt: str


class ShareEnvelope(BaseModel):
    success: bool = True
    data: ShareOut


class ShareListEnvelope(BaseModel):
    success: bool = True
    data: list[ShareOut]


class AssignmentOut(BaseModel):
    scanKind: Literal["malware", "media"]
    scanId: str
    assignee: UserOut
    assignedBy: str | None
    assignedAt: str


class AssignmentEnvelope(BaseModel):
    success: bool = True
    data: AssignmentOut | None


class DoneEnvelope(BaseModel):
    success: bool = True
    message: str

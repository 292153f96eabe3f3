from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from veriscan.auth.passwords import PASSWORD_MIN_LENGTH, usable
from veriscan.openapi import NOT_BLANK

Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
]
Password = Annotated[
    str, StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=128), AfterValidator(usable)
]
DisplayName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NOT_BLANK)
]
Email = Annotated[EmailStr, StringConstraints(max_length=254)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="ignore", str_max_length=1024)


class RegisterRequest(StrictModel):
    username: Username
    email: Email
    password: Password
    name: DisplayName | None = None
    # Not offered (new users are operatives, CONTRACT.md), but read so that asking for
    # another role is refused out loud instead of creating an operative the client
    # believes is something else.
    role: SkipJsonSchema[str | None] = None


class LoginRequest(StrictModel):
    # Either name signs in; the schema says so too, so clients and fuzzers know.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("username", "email")
            ]
        }
    )

    username: Annotated[str, StringConstraints(min_length=1, max_length=254)] | None = None
    email: Annotated[str, StringConstraints(min_length=1, max_length=254)] | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]

    @model_validator(mode="after")
    def _one_identifier(self) -> LoginRequest:
        if not (self.username or self.email):
            raise ValueError("username or email is required")
        return self

    @property
    def identifier(self) -> str:
        return (self.username or self.email or "").strip()


class ProfileUpdate(StrictModel):
    username: Username | None = None
    email: Email | None = None
    name: DisplayName | None = None
    current_password: Annotated[str, StringConstraints(max_length=128)] | None = None
    new_password: Password | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    email: str
    name: str
    role: str
    is_active: bool
    created_at: datetime


class UserEnvelope(BaseModel):
    user: UserOut


class RegisterResponse(BaseModel):
    message: str
    user: UserOut


class LoginData(BaseModel):
    token: str = Field(description="The access token (the deepfake document's name for it)")
    user: UserOut


class LoginResponse(BaseModel):
    success: bool = True
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    user: UserOut
    data: LoginData


class RefreshResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret


class MessageResponse(BaseModel):
    message: str


class ProfileUpdateResponse(BaseModel):
    message: str
    user: UserOut


class PersonOut(BaseModel):
    """Whom a scan can be shared with or assigned to: no e-mail address, no id."""

    username: str
    name: str
    role: str


class PeopleOut(BaseModel):
    data: list[PersonOut]

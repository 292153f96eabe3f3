from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request, status

from veriscan.audit.service import Origin
from veriscan.auth.schemas import MessageResponse
from veriscan.deps import Context, CurrentUser, DbSession, parse_uuid
from veriscan.keys import service
from veriscan.keys.schemas import (
    ApiKeyEnvelope,
    ApiKeyList,
    ApiKeyMessage,
    ApiKeyOut,
    KeyCreate,
    KeyUpdate,
    KeyValidateRequest,
    KeyValidateResponse,
)
from veriscan.openapi import ResourceId, errors

router = APIRouter(prefix="/api/keys", tags=["keys"])


def _key_id(value: str) -> uuid.UUID:
    return parse_uuid(value, invalid_status=404, not_found=service.KEY_NOT_FOUND)


@router.get("/", responses=errors(401))
@router.get("", include_in_schema=False)
def list_keys(user: CurrentUser, session: DbSession) -> ApiKeyList:
    keys = service.list_keys(session, user)
    return ApiKeyList(api_keys=[ApiKeyOut.model_validate(key) for key in keys])


@router.post("/", status_code=status.HTTP_201_CREATED, responses=errors(400, 401))
@router.post("", status_code=status.HTTP_201_CREATED, include_in_schema=False)
async def create_key(
    body: KeyCreate, request: Request, user: CurrentUser, context: Context
) -> ApiKeyMessage:
    key = await service.create_key(context, user, body, origin=Origin.of(request))
    return ApiKeyMessage(
        message="API key created successfully", api_key=ApiKeyOut.model_validate(key)
    )


@router.post("/validate", responses=errors(400, 401))
async def validate_key(
    body: KeyValidateRequest, user: CurrentUser, context: Context
) -> KeyValidateResponse:
    check = await service.validate(context, body.key_value)
    return KeyValidateResponse(
        valid=check.status.value == "valid", status=check.status.value, message=check.message
    )


@router.get("/{key_id}", responses=errors(401, 404))
def get_key(key_id: ResourceId, user: CurrentUser, session: DbSession) -> ApiKeyEnvelope:
    key = service.get_key(session, user, _key_id(key_id))
    return ApiKeyEnvelope(api_key=ApiKeyOut.model_validate(key))


@router.put("/{key_id}", responses=errors(400, 401, 404))
async def update_key(
    key_id: ResourceId, body: KeyUpdate, request: Request, user: CurrentUser, context: Context
) -> ApiKeyMessage:
    key = await service.update_key(context, user, _key_id(key_id), body, origin=Origin.of(request))
    return ApiKeyMessage(
        message="API key updated successfully", api_key=ApiKeyOut.model_validate(key)
    )


@router.delete("/{key_id}", responses=errors(401, 404))
def delete_key(
    key_id: ResourceId,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    context: Context,
    background: BackgroundTasks,
) -> MessageResponse:
    announce = service.delete_key(
        session, context, user, _key_id(key_id), origin=Origin.of(request)
    )
    background.add_task(announce)  # once the transaction is committed
    return MessageResponse(message="API key deleted successfully")

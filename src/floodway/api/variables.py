"""Org variables (``zoho.crm.getOrgVariable``) through the admin API: list, set, delete.

The manifest's ``[[variable]]`` table sets the same values on deploy; both need the
*manage_functions* permission, because functions read these values.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from .errors import ZohoError, json_response
from .functions import _fx, admin, body_doc, fcall, read_model

router = APIRouter()
_TAGS = ["variables"]


class VariableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(max_length=10_000)
    description: str | None = Field(default=None, max_length=1_000)


class VariableOut(BaseModel):
    name: str
    value: str
    description: str | None = None


class VariablesOut(BaseModel):
    variables: list[VariableOut]


@router.get(
    "/api/variables",
    response_model=VariablesOut,
    tags=_TAGS,
    summary="List the org variables",
)
async def list_variables(request: Request) -> Response:
    await admin(request, write=False)
    return json_response({"variables": await fcall(_fx(request).variables.list)})


@router.put(
    "/api/variables/{name}",
    response_model=VariableOut,
    tags=_TAGS,
    summary="Create or change an org variable",
    openapi_extra=body_doc(VariableIn),
)
async def set_variable(request: Request, name: str) -> Response:
    await admin(request)
    body = await read_model(request, VariableIn)
    fx = _fx(request)
    await fcall(fx.variables.set, name, body.value, body.description)
    return json_response(
        {"name": name.strip(), "value": body.value, "description": body.description}
    )


@router.delete("/api/variables/{name}", tags=_TAGS, summary="Delete an org variable")
async def delete_variable(request: Request, name: str) -> Response:
    await admin(request)
    if not await fcall(_fx(request).variables.delete, name):
        raise ZohoError("INVALID_DATA", "no org variable has this name", 404, {"name": name})
    return Response(status_code=204)

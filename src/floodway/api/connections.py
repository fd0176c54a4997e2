"""Connections through the admin API: create or replace, list, read, delete.

Secrets go in (client secret, refresh token, API key, password) and never come out: responses
show only whether a secret is set and a short fingerprint (security.md SEC-4). An
``oauth2_authorization_code`` connection takes the refresh token the provider issued when an
admin consented; the console's redirect flow fills in the same field.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from ..functions.connections import ConnectionSpec
from .errors import ZohoError, json_response
from .functions import _fx, admin, body_doc, fcall, read_model

router = APIRouter()
_TAGS = ["connections"]


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["oauth2_client_credentials", "oauth2_authorization_code", "api_key", "basic"]
    token_url: str | None = Field(default=None, max_length=2_000)
    client_id: str | None = Field(default=None, max_length=500)
    client_secret: str | None = Field(default=None, max_length=2_000)
    refresh_token: str | None = Field(default=None, max_length=4_000)
    scopes: list[str] = Field(default_factory=list, max_length=50)
    api_key: str | None = Field(default=None, max_length=4_000)
    api_key_header: str | None = Field(default=None, max_length=200)
    api_key_query: str | None = Field(default=None, max_length=200)
    api_key_prefix: str = Field(default="", max_length=100)
    username: str | None = Field(default=None, max_length=500)
    password: str | None = Field(default=None, max_length=2_000)
    hosts: list[str] = Field(default_factory=list, max_length=50)
    base_url: str | None = Field(default=None, max_length=2_000)
    client_auth: Literal["body", "basic"] = "body"


@router.get("/api/connections", tags=_TAGS, summary="List connections (no secret values)")
async def list_connections(request: Request) -> Response:
    await admin(request, write=False)
    return json_response({"connections": await fcall(_fx(request).connections.list)})


@router.get("/api/connections/{name}", tags=_TAGS, summary="One connection (no secret values)")
async def get_connection(request: Request, name: str) -> Response:
    await admin(request, write=False)
    found = await fcall(_fx(request).connections.get_json, name)
    return json_response({"connection": found})


@router.put(
    "/api/connections/{name}",
    tags=_TAGS,
    summary="Create or replace a connection; secrets are stored encrypted",
    openapi_extra=body_doc(ConnectionIn),
)
async def put_connection(request: Request, name: str) -> Response:
    await admin(request)
    body = await read_model(request, ConnectionIn)
    values = body.model_dump()
    spec = ConnectionSpec(
        name=name,
        **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()},
    )
    stored = await fcall(_fx(request).connections.put, spec)
    return json_response({"connection": stored})


@router.delete("/api/connections/{name}", tags=_TAGS, summary="Delete a connection")
async def delete_connection(request: Request, name: str) -> Response:
    await admin(request)
    if not await fcall(_fx(request).connections.delete, name):
        raise ZohoError("INVALID_DATA", "no connection has this name", 404, {"name": name})
    return Response(status_code=204)

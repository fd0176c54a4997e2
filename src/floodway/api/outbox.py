"""Mail that functions queued (``sendmail``), as the delivery loop sees it: pending, sent or
failed, with attempts and the last error. Without SMTP settings mail stays here, viewable."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .errors import ZohoError, json_response
from .functions import _fx, admin, fcall

router = APIRouter()
_STATUSES = ("pending", "sent", "failed")


@router.get("/api/outbox", tags=["outbox"], summary="Queued and delivered mail, newest first")
async def list_outbox(request: Request) -> Response:
    await admin(request, write=False)
    status = request.query_params.get("status") or None
    if status is not None and status not in _STATUSES:
        raise ZohoError(
            "INVALID_DATA", "status must be pending, sent or failed", 400, {"param_name": "status"}
        )
    raw_limit = request.query_params.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise ZohoError("INVALID_DATA", "limit must be 1 to 1000", 400, {"param_name": "limit"})
    mails = await fcall(_fx(request).outbox.list, status=status, limit=int(raw_limit))
    return json_response({"mails": mails})

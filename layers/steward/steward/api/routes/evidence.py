"""Evidence packs: a model's documentation at an instant, as one verifiable zip."""

from __future__ import annotations

import base64
import json

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import AwareDatetime

from steward.api.context import caller
from steward.domain.identity import Role
from steward.wiring import evidence, pack_store

# Lambda answers at most 6 MB, and a binary body travels base64 (4/3): larger packs go to
# the reports bucket and the answer is a 303 to a presigned URL.
INLINE_BYTES = 4 * 1024 * 1024

router = Router()


@router.get(
    "/models/<name>/evidence",
    summary="The model's evidence pack at an instant (a zip; approver or data scientist)",
    responses={
        200: {
            "description": "The pack: manifest.json, index.html, the records up to `at`",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        303: {
            "description": "A pack over 4 MB: fetch it from Location (a presigned URL, 15 min)",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
    },
)
def export(name: str, at: AwareDatetime | None = None) -> Response[str]:
    # A bulk copy of the governance record and the audit trail: for those who answer for
    # models (data scientists, approvers; admin holds every role), not viewers or apps.
    caller(router).require(Role.DATA_SCIENTIST, Role.APPROVER)
    pack = evidence().build(name, at)
    disposition = f'attachment; filename="{pack.filename}"'
    if pack.size > INLINE_BYTES:
        url = pack_store().keep(f"{name}/{pack.filename}", pack.file)
        body = json.dumps({"url": url, "bytes": pack.size, "at": pack.at})
        return Response(303, "application/json", body, headers={"Location": url})
    # Base64 text flagged as such (what powertools does with bytes, after its response
    # validation, which would try to read the zip as UTF-8 text).
    response = Response(
        200,
        "application/zip",
        base64.b64encode(pack.file.read()).decode(),
        headers={"Content-Disposition": disposition, "X-Steward-Evidence-At": pack.at},
    )
    response.base64_encoded = True
    return response

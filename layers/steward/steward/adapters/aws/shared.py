"""What every AWS adapter shares: the error code of a ``ClientError`` and DynamoDB's
opaque continuation tokens."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from steward.domain.models import Page

T = TypeVar("T")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def encode_token(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        key: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.encode()))
        return key
    except (ValueError, TypeError):
        from steward.domain.errors import BadRequest

        raise BadRequest("next_token is not valid") from None


def query_page(
    db: Any, kwargs: dict[str, Any], token: str | None, convert: Callable[[dict[str, Any]], T]
) -> Page[T]:
    """One page of a DynamoDB query, with an opaque continuation token."""
    if start := decode_token(token):
        kwargs["ExclusiveStartKey"] = start
    page = db.query(**kwargs)
    return Page(
        items=[convert(i) for i in page.get("Items", [])],
        next_token=encode_token(page.get("LastEvaluatedKey")),
    )


def newest_first(
    db: Any,
    table: str,
    pk: dict[str, str],
    prefix: str,
    page: tuple[int, str | None],
    convert: Callable[[dict[str, Any]], T],
) -> Page[T]:
    """One page (``page``: limit, token) of the items under ``pk`` whose sort key starts with
    ``prefix`` (a model's ``V#`` versions, its ``DRIFT#`` summaries), newest first."""
    limit, token = page
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": pk, ":prefix": {"S": prefix}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    return query_page(db, kwargs, token, convert)


def model_pk(name: str) -> dict[str, str]:
    """The registry table's partition of model ``name`` (its record, versions, reports)."""
    return {"S": f"MODEL#{name}"}


def doc_of(item: dict[str, Any]) -> dict[str, Any]:
    """An item's JSON document (``doc``)."""
    found: dict[str, Any] = json.loads(item["doc"]["S"])
    return found

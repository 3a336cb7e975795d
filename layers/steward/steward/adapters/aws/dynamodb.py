"""The registry table's store (models, versions, aliases, task tokens; the inventory's index
entries in :mod:`.inventory_index`); the audit trail is in :mod:`.audit_trail`, the drift
reports in :mod:`.reports`.

Items keep the record as one JSON document (``doc``) next to the few attributes that keys,
indexes and conditions need; conditional writes give compare-and-set semantics.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from steward.adapters.aws.inventory_index import (
    INDEX,
    LOST_RACE,
    MODEL_KIND,
    InventoryIndex,
    model_of,
    text_copy,
)
from steward.adapters.aws.shared import error_code, model_pk, newest_first, query_page
from steward.domain.errors import AlreadyExists, Conflict, DependencyUnavailable, NotFound
from steward.domain.inventory import (
    facets_of,
    indexed_text,
)
from steward.domain.models import Model, ModelVersion, Page, Status
from steward.ports import (
    ModelStore,
)

BATCH_WRITE = 25  # items a BatchWriteItem request takes at most


def _model_doc(model: Model) -> str:
    """A model's document; its revision and latest version live in their own attributes
    (conditions and ``add_version`` move them), so the document never holds stale copies."""
    return model.model_dump_json(exclude={"rev", "latest_version"})


def _vsk(version: int) -> dict[str, str]:
    return {"S": f"V#{version:010d}"}


def _version_of(item: dict[str, Any]) -> ModelVersion:
    return ModelVersion.model_validate_json(item["doc"]["S"])


class DynamoModelStore(InventoryIndex, ModelStore):
    """:class:`~steward.ports.ModelStore` on one DynamoDB table (pk/sk, GSI ``gsi1``)."""

    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    # models
    def model_items(
        self, model: Model, versions: Sequence[ModelVersion] = ()
    ) -> list[dict[str, Any]]:
        """Every item the registry table holds for a model in this state: its record (with
        ``rev`` and ``latest_version`` as the model carries them), one index entry per facet
        and one item per version. ``create_model``, ``save_model`` and ``add_version`` write
        these same items one change at a time; :meth:`bulk_load` writes them all at once."""
        return [
            self._meta_item(model),
            *self._facet_items(model, sorted(facets_of(model))),
            *(self._version_item(v) for v in versions),
        ]

    def _meta_item(self, model: Model) -> dict[str, Any]:
        return {
            "pk": model_pk(model.name),
            "sk": {"S": "META"},
            "doc": {"S": _model_doc(model)},
            "rev": {"N": str(model.rev)},
            "latest_version": {"N": str(model.latest_version)},
            "gsi1pk": {"S": MODEL_KIND},
            "gsi1sk": {"S": model.name},
            **text_copy(model),
        }

    def create_model(self, model: Model) -> None:
        writes = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": self._meta_item(model.model_copy(update={"latest_version": 0})),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            *self._facet_writes(None, model),
        ]
        try:
            self._db.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if error_code(exc) in LOST_RACE:
                raise AlreadyExists(f"model {model.name} exists") from None
            raise

    def bulk_load(self, models: Iterable[tuple[Model, Sequence[ModelVersion]]]) -> int:
        """Seed the table: put every item of each (model, versions) (:meth:`model_items`)
        with ``BatchWriteItem``, 25 items a request, unprocessed items retried; returns the
        items written. Unconditional and unaudited (no audit event, no drift schedule): for
        loading a fresh registry (benches, tests), never for live changes."""
        written = 0
        batch: list[dict[str, Any]] = []
        for model, versions in models:
            for item in self.model_items(model, versions):
                batch.append({"PutRequest": {"Item": item}})
                if len(batch) == BATCH_WRITE:
                    written += self._batch_write(batch)
                    batch = []
        if batch:
            written += self._batch_write(batch)
        return written

    def _batch_write(self, requests: list[dict[str, Any]]) -> int:
        pending: dict[str, Any] = {self._table: requests}
        for attempt in range(20):
            answer = self._db.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                return len(requests)
            time.sleep(min(1.0, 0.05 * 2**attempt))
        raise DependencyUnavailable("DynamoDB left items unprocessed after 20 attempts")

    def get_model(self, name: str) -> Model:
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": model_pk(name), "sk": {"S": "META"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            raise NotFound(f"no model {name}")
        return model_of(item)

    def save_model(self, model: Model, expected_rev: int) -> Model:
        """Replace the document and, in the same transaction, the index entries when the
        facets (owner, risk tier, production, drift verdict, tags) or the search text
        changed."""
        saved = model.model_copy(update={"rev": expected_rev + 1})
        before = self.get_model(model.name)
        if before.rev != expected_rev:
            raise Conflict(f"model {model.name} changed meanwhile; retry")
        values = {
            ":doc": {"S": _model_doc(saved)},
            ":next": {"N": str(expected_rev + 1)},
            ":rev": {"N": str(expected_rev)},
        }
        text = indexed_text(saved)
        if text is None:
            expression = "SET doc = :doc, rev = :next REMOVE tx"
        else:
            expression, values[":tx"] = "SET doc = :doc, rev = :next, tx = :tx", {"S": text}
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": model_pk(model.name), "sk": {"S": "META"}},
            "UpdateExpression": expression,
            "ConditionExpression": "rev = :rev",
            "ExpressionAttributeValues": values,
        }
        facets = self._facet_writes(before, saved)
        try:
            if not facets:
                result = self._db.update_item(**update, ReturnValues="ALL_NEW")
                return model_of(result["Attributes"])
            self._db.transact_write_items(TransactItems=[{"Update": update}, *facets])
        except ClientError as exc:
            if error_code(exc) in LOST_RACE:
                raise Conflict(f"model {model.name} changed meanwhile; retry") from None
            raise
        latest = self.get_model(model.name).latest_version
        return saved.model_copy(update={"latest_version": latest})

    # versions
    def _version_item(self, version: ModelVersion) -> dict[str, Any]:
        return {
            "pk": model_pk(version.name),
            "sk": _vsk(version.version),
            "doc": {"S": version.model_dump_json()},
            "status": {"S": version.status.value},
            "gsi1pk": {"S": f"STATUS#{version.status.value}"},
            "gsi1sk": {
                "S": f"{version.created_at.isoformat()}#{version.name}#{version.version:010d}"
            },
        }

    def add_version(self, version: ModelVersion) -> None:
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"pk": model_pk(version.name), "sk": {"S": "META"}},
                            "UpdateExpression": "SET latest_version = :n",
                            "ConditionExpression": "latest_version = :prev",
                            "ExpressionAttributeValues": {
                                ":n": {"N": str(version.version)},
                                ":prev": {"N": str(version.version - 1)},
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": self._version_item(version),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if error_code(exc) in LOST_RACE:
                raise Conflict(f"version {version.version} of {version.name} was taken") from None
            raise

    def get_version(self, name: str, version: int) -> ModelVersion:
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": model_pk(name), "sk": _vsk(version)},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            raise NotFound(f"no version {version} of {name}")
        return ModelVersion.model_validate_json(item["doc"]["S"])

    def list_versions(self, name: str, limit: int, token: str | None) -> Page[ModelVersion]:
        self.get_model(name)
        return newest_first(
            self._db, self._table, model_pk(name), "V#", (limit, token), _version_of
        )

    def save_version(self, version: ModelVersion, expected_status: Status) -> None:
        try:
            self._db.put_item(
                TableName=self._table,
                Item=self._version_item(version),
                ConditionExpression="#s = :expected",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":expected": {"S": expected_status.value}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise Conflict(
                    f"version {version.version} of {version.name} changed meanwhile"
                ) from None
            raise

    def versions_by_status(
        self, status: Status, limit: int, token: str | None
    ) -> Page[ModelVersion]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INDEX,
            "KeyConditionExpression": "gsi1pk = :k",
            "ExpressionAttributeValues": {":k": {"S": f"STATUS#{status.value}"}},
            "Limit": limit,
        }
        return query_page(self._db, kwargs, token, _version_of)

    # task tokens: their own items, never part of a version document
    def put_task_token(self, name: str, version: int, token: str) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": model_pk(name),
                "sk": {"S": f"TOKEN#{version:010d}"},
                "token": {"S": token},
            },
        )

    def task_token(self, name: str, version: int) -> str | None:
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": model_pk(name), "sk": {"S": f"TOKEN#{version:010d}"}},
            ConsistentRead=True,
        ).get("Item")
        return str(item["token"]["S"]) if item else None

    def take_task_token(self, name: str, version: int) -> str | None:
        try:
            result = self._db.delete_item(
                TableName=self._table,
                Key={"pk": model_pk(name), "sk": {"S": f"TOKEN#{version:010d}"}},
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return str(result["Attributes"]["token"]["S"])

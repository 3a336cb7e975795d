"""The registry table's store (models, versions, aliases, task tokens, the inventory's index
entries); the audit trail is in :mod:`.audit_trail`, the drift reports in :mod:`.reports`.

Items keep the record as one JSON document (``doc``) next to the few attributes that keys,
indexes and conditions need; conditional writes give compare-and-set semantics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from steward.adapters.aws.shared import error_code, model_pk, newest_first, query_page
from steward.domain.errors import AlreadyExists, Conflict, DependencyUnavailable, NotFound
from steward.domain.inventory import (
    IndexBackfill,
    ModelFilter,
    decode_after,
    encode_after,
    facets_of,
    indexed_text,
    query_words,
)
from steward.domain.models import Model, ModelVersion, Page, Status
from steward.ports import (
    ModelStore,
)
from steward.retry import on_conflict

INDEX = "gsi1"


MODEL_KIND = "MODEL"
FACET_KIND = "INV#"  # gsi1pk of a model's index entry: INV#owner=alice, INV#tag=team=risk
OVER_READ = 1000  # index entries a filtered page examines at most
BATCH_WRITE = 25  # items a BatchWriteItem request takes at most


# A conditional write, alone or in a transaction, that a concurrent writer got to first.
LOST_RACE = ("TransactionCanceledException", "ConditionalCheckFailedException")


def _fsk(facet: str) -> dict[str, str]:
    return {"S": f"IDX#{facet}"}


def _model_doc(model: Model) -> str:
    """A model's document; its revision and latest version live in their own attributes
    (conditions and ``add_version`` move them), so the document never holds stale copies."""
    return model.model_dump_json(exclude={"rev", "latest_version"})


def _vsk(version: int) -> dict[str, str]:
    return {"S": f"V#{version:010d}"}


def _chunks(items: list[Any], size: Callable[[], int]) -> Iterator[list[Any]]:
    """``items`` in consecutive chunks, each as long as ``size()`` says when it is taken."""
    start = 0
    while start < len(items):
        end = start + size()
        yield items[start:end]
        start = end


def _narrowing(where: ModelFilter, primary: str | None) -> tuple[str, dict[str, Any]] | None:
    """A listing query's filter: the entry carries every facet asked for besides the one
    whose index is read, and its search text every word of ``q``. An entry without the
    copies (written before they existed, or a text too long to copy) passes, for the
    record to judge."""
    facets = [f for f in where.facets() if f != primary]
    words = query_words(where.q) if where.q else []
    clauses: list[str] = []
    values: dict[str, Any] = {}
    if facets:
        values |= {f":f{i}": {"S": f} for i, f in enumerate(facets)}
        held = " AND ".join(f"contains(fs, :f{i})" for i in range(len(facets)))
        clauses.append(f"(attribute_not_exists(fs) OR ({held}))")
    if words:
        values |= {f":w{i}": {"S": w} for i, w in enumerate(words)}
        held = " AND ".join(f"contains(tx, :w{i})" for i in range(len(words)))
        clauses.append(f"(attribute_not_exists(tx) OR ({held}))")
    return (" AND ".join(clauses), values) if clauses else None


def _same_item(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal DynamoDB items; a string set's order is not kept by DynamoDB."""

    def plain(item: dict[str, Any]) -> dict[str, Any]:
        return {k: frozenset(v["SS"]) if "SS" in v else v for k, v in item.items()}

    return plain(a) == plain(b)


def _version_of(item: dict[str, Any]) -> ModelVersion:
    return ModelVersion.model_validate_json(item["doc"]["S"])


class DynamoModelStore(ModelStore):
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
            *(self._facet_item(model, f) for f in sorted(facets_of(model))),
            *(self._version_item(v) for v in versions),
        ]

    def _meta_item(self, model: Model) -> dict[str, Any]:
        item = {
            "pk": model_pk(model.name),
            "sk": {"S": "META"},
            "doc": {"S": _model_doc(model)},
            "rev": {"N": str(model.rev)},
            "latest_version": {"N": str(model.latest_version)},
            "gsi1pk": {"S": MODEL_KIND},
            "gsi1sk": {"S": model.name},
        }
        text = indexed_text(model)
        if text is not None:
            item["tx"] = {"S": text}
        return item

    def _facet_item(self, model: Model, facet: str) -> dict[str, Any]:
        """An index entry: ``gsi1pk = INV#<facet>``, ``gsi1sk = <name>``, in the model's
        partition, with copies of every facet of the model (``fs``) and of its search text
        (``tx``, when short enough) that a listing's query filters on."""
        item = {
            "pk": model_pk(model.name),
            "sk": _fsk(facet),
            "gsi1pk": {"S": f"{FACET_KIND}{facet}"},
            "gsi1sk": {"S": model.name},
            "fs": {"SS": sorted(facets_of(model))},
        }
        text = indexed_text(model)
        if text is not None:
            item["tx"] = {"S": text}
        return item

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

    def _facet_writes(self, before: Model | None, after: Model) -> list[dict[str, Any]]:
        """The index entries to delete and to put when a model goes from ``before`` (``None``:
        new) to ``after``: none when its facets and search text stay; otherwise a delete per
        facet lost and a put of every entry (each carries all the facets and the text)."""
        old = set() if before is None else facets_of(before)
        new = facets_of(after)
        if before is not None and old == new and indexed_text(before) == indexed_text(after):
            return []
        key = model_pk(after.name)
        writes: list[dict[str, Any]] = [
            {"Delete": {"TableName": self._table, "Key": {"pk": key, "sk": _fsk(f)}}}
            for f in sorted(old - new)
        ]
        writes += [
            {"Put": {"TableName": self._table, "Item": self._facet_item(after, f)}}
            for f in sorted(new)
        ]
        return writes

    @staticmethod
    def _model(item: dict[str, Any]) -> Model:
        model = Model.model_validate_json(item["doc"]["S"])
        model.rev = int(item["rev"]["N"])
        model.latest_version = int(item["latest_version"]["N"])
        return model

    def get_model(self, name: str) -> Model:
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": model_pk(name), "sk": {"S": "META"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            raise NotFound(f"no model {name}")
        return self._model(item)

    def list_models(
        self, limit: int, token: str | None, where: ModelFilter | None = None
    ) -> Page[Model]:
        """Reads the index of ``where``'s most selective facet (or the name listing) in
        name order, the query itself filtering on the other facets and ``q`` (the entries'
        copies of them), fetches the models it names and keeps those that match every
        filter (the index is eventually consistent; the model record is read consistently
        and is the judge).

        At most ``max(limit, OVER_READ)`` index entries are examined per call, so a page
        may hold fewer than ``limit`` models while ``next_token`` is set. When the index
        read is the whole filter, a query asks for one entry more than the page still needs
        (every entry names a match, the index lagging aside); when other filters remain,
        it examines at least 100 entries and twice as many each round, and the models
        the filtered query returns are fetched 100 at a time until the page is full."""
        where = where or ModelFilter()
        after = decode_after(token, where)
        primary = where.primary()
        partition = MODEL_KIND if primary is None else f"{FACET_KIND}{primary}"
        exact = where.q is None and len(where.facets()) <= 1
        narrowing = _narrowing(where, primary)
        budget = max(limit, OVER_READ)
        step = max(100, 2 * limit)
        found: list[Model] = []
        last: str | None = None
        start: dict[str, Any] | None = None
        if after is not None:
            start = {
                "pk": model_pk(after),
                "sk": {"S": "META"} if primary is None else _fsk(primary),
                "gsi1pk": {"S": partition},
                "gsi1sk": {"S": after},
            }
        while budget > 0:
            wanted = limit - len(found) + 1 if exact else step
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": INDEX,
                "KeyConditionExpression": "gsi1pk = :k",
                "ExpressionAttributeValues": {":k": {"S": partition}},
                "Limit": min(budget, wanted),
            }
            if narrowing is not None:
                kwargs["FilterExpression"] = narrowing[0]
                kwargs["ExpressionAttributeValues"].update(narrowing[1])
            if start is not None:
                kwargs["ExclusiveStartKey"] = start
            page = self._db.query(**kwargs)
            items = page.get("Items", [])
            budget, step = budget - page.get("ScannedCount", len(items)), step * 2
            for chunk in _chunks(items, lambda: min(100, limit - len(found) + 1)):
                models = (
                    [self._model(item) for item in chunk]
                    if primary is None
                    else self._models([item["gsi1sk"]["S"] for item in chunk])
                )
                for model in models:
                    if where.matches(model):
                        if len(found) == limit:
                            token = encode_after(found[-1].name, where)
                            return Page(items=found, next_token=token)
                        found.append(model)
            start = page.get("LastEvaluatedKey")
            if start is None:
                return Page(items=found, next_token=None)
            last = start["gsi1sk"]["S"]  # examined up to here, returned or filtered out
        return Page(items=found, next_token=encode_after(last, where) if last else None)

    def _models(self, names: list[str]) -> list[Model]:
        """The models named, in that order (consistent reads; a name deleted meanwhile is
        skipped), 100 keys per BatchGetItem."""
        got: dict[str, Model] = {}
        for i in range(0, len(names), 100):
            keys = [{"pk": model_pk(n), "sk": {"S": "META"}} for n in names[i : i + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self._db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    model = self._model(item)
                    got[model.name] = model
                request = answer.get("UnprocessedKeys") or {}
        return [got[n] for n in names if n in got]

    def backfill_index(self, limit: int, token: str | None) -> IndexBackfill:
        """One page of the name listing (``gsi1``, partition ``MODEL``), then for its models
        one ``BatchGetItem`` of the entries their facets call for, and per model with some
        missing or stale (written before entries carried their model's facets and search
        text) a transaction: a condition on the model's ``rev`` and a put per such entry."""
        where = ModelFilter()
        after = decode_after(token, where)
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INDEX,
            "KeyConditionExpression": "gsi1pk = :k",
            "ExpressionAttributeValues": {":k": {"S": MODEL_KIND}},
            "Limit": limit,
        }
        if after is not None:
            kwargs["ExclusiveStartKey"] = {
                "pk": model_pk(after),
                "sk": {"S": "META"},
                "gsi1pk": {"S": MODEL_KIND},
                "gsi1sk": {"S": after},
            }
        page = self._db.query(**kwargs)
        models = [self._model(i) for i in page.get("Items", [])]
        missing = self._missing_entries(models)
        done = IndexBackfill(examined=len(models))
        for model in models:
            if missing.get(model.name):
                done.entries += on_conflict(
                    partial(self._fill_entries, model, missing),
                    f"backfilling the index entries of {model.name}",
                )
                done.repaired += 1
        if models and page.get("LastEvaluatedKey"):
            done.next_token = encode_after(models[-1].name, where)
        return done

    def _missing_entries(self, models: list[Model]) -> dict[str, set[str]]:
        """Per model, the facets whose index entries are absent or stale (their copies of the
        facets or of the search text differ from the model's; consistent reads)."""
        wanted = {(m.name, f): self._facet_item(m, f) for m in models for f in sorted(facets_of(m))}
        current: set[tuple[str, str]] = set()
        keys = [{"pk": model_pk(name), "sk": _fsk(facet)} for name, facet in sorted(wanted)]
        for i in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self._table: {"Keys": keys[i : i + 100], "ConsistentRead": True}
            }
            while request:
                answer = self._db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    at = (item["pk"]["S"].removeprefix("MODEL#"), item["sk"]["S"][4:])
                    if at in wanted and _same_item(wanted[at], item):
                        current.add(at)
                request = answer.get("UnprocessedKeys") or {}
        missing: dict[str, set[str]] = {}
        for name, facet in wanted.keys() - current:
            missing.setdefault(name, set()).add(facet)
        return missing

    def _fill_entries(self, model: Model, missing: dict[str, set[str]], attempt: int) -> int:
        """Put the model's missing entries if it is still at ``rev``; after a lost race,
        re-read it and its entries first (the facets may have changed)."""
        if attempt:
            try:
                model = self.get_model(model.name)
            except NotFound:  # deleted meanwhile
                return 0
            missing[model.name] = self._missing_entries([model]).get(model.name, set())
        facets = missing.pop(model.name, set())
        if not facets:
            return 0
        check = {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": {"pk": model_pk(model.name), "sk": {"S": "META"}},
                "ConditionExpression": "rev = :rev",
                "ExpressionAttributeValues": {":rev": {"N": str(model.rev)}},
            }
        }
        try:
            self._db.transact_write_items(
                TransactItems=[
                    check,
                    *(
                        {"Put": {"TableName": self._table, "Item": self._facet_item(model, f)}}
                        for f in sorted(facets)
                    ),
                ]
            )
        except ClientError as exc:
            if error_code(exc) in LOST_RACE:
                missing[model.name] = facets
                raise Conflict(f"model {model.name} changed meanwhile") from None
            raise
        return len(facets)

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
                return self._model(result["Attributes"])
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

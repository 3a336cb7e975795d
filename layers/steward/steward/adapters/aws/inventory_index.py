"""The inventory's index in the registry table: a model's entries (one per facet, each with
copies of all its facets and of its search text), the filtered, name-ordered listing that
reads them, and the backfill that gives models the entries they lack. Mixed into
:class:`~steward.adapters.aws.dynamodb.DynamoModelStore`; docs/inventory.md has the design.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from steward.adapters.aws.shared import error_code, model_pk
from steward.domain.errors import Conflict, NotFound
from steward.domain.inventory import (
    IndexBackfill,
    ModelFilter,
    decode_after,
    encode_after,
    facets_of,
    indexed_text,
    query_words,
)
from steward.domain.models import Model, Page
from steward.retry import on_conflict

INDEX = "gsi1"
MODEL_KIND = "MODEL"
FACET_KIND = "INV#"  # gsi1pk of a model's index entry: INV#owner=alice, INV#tag=team=risk
OVER_READ = 1000  # index entries a filtered page examines at most
# A conditional write, alone or in a transaction, that a concurrent writer got to first.
LOST_RACE = ("TransactionCanceledException", "ConditionalCheckFailedException")


def fsk(facet: str) -> dict[str, str]:
    return {"S": f"IDX#{facet}"}


def model_of(item: dict[str, Any]) -> Model:
    """A model from its record (``doc``, with ``rev`` and ``latest_version`` beside it)."""
    model = Model.model_validate_json(item["doc"]["S"])
    model.rev = int(item["rev"]["N"])
    model.latest_version = int(item["latest_version"]["N"])
    return model


def text_copy(model: Model) -> dict[str, Any]:
    """The copy of the model's search text an item carries (``tx``); none when the text is
    too long to copy."""
    text = indexed_text(model)
    return {} if text is None else {"tx": {"S": text}}


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


class InventoryIndex:
    """The index half of the model store: its entries, listing and backfill."""

    _db: Any
    _table: str

    def get_model(self, name: str) -> Model:
        raise NotImplementedError

    def _facet_items(self, model: Model, facets: Iterable[str]) -> list[dict[str, Any]]:
        """The model's index entries for ``facets``: ``gsi1pk = INV#<facet>``, ``gsi1sk =
        <name>``, in the model's partition, each with copies of every facet of the model
        (``fs``) and of its search text (``tx``, when short enough) that a listing's query
        filters on."""
        key = model_pk(model.name)
        copies = {"fs": {"SS": sorted(facets_of(model))}, **text_copy(model)}
        return [
            {
                "pk": key,
                "sk": fsk(facet),
                "gsi1pk": {"S": f"{FACET_KIND}{facet}"},
                "gsi1sk": {"S": model.name},
                **copies,
            }
            for facet in facets
        ]

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
            {"Delete": {"TableName": self._table, "Key": {"pk": key, "sk": fsk(f)}}}
            for f in sorted(old - new)
        ]
        writes += self._puts(self._facet_items(after, sorted(new)))
        return writes

    def _puts(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"Put": {"TableName": self._table, "Item": item}} for item in items]

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
                "sk": {"S": "META"} if primary is None else fsk(primary),
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
                    [model_of(item) for item in chunk]
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
                    model = model_of(item)
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
        models = [model_of(i) for i in page.get("Items", [])]
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
        wanted: dict[tuple[str, str], dict[str, Any]] = {}
        for m in models:
            facets = sorted(facets_of(m))
            items = self._facet_items(m, facets)
            wanted.update(zip([(m.name, f) for f in facets], items, strict=True))
        current: set[tuple[str, str]] = set()
        keys = [{"pk": model_pk(name), "sk": fsk(facet)} for name, facet in sorted(wanted)]
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
                TransactItems=[check, *self._puts(self._facet_items(model, sorted(facets)))]
            )
        except ClientError as exc:
            if error_code(exc) in LOST_RACE:
                missing[model.name] = facets
                raise Conflict(f"model {model.name} changed meanwhile") from None
            raise
        return len(facets)

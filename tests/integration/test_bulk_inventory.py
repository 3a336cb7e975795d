"""The bulk seeding path and the inventory index backfill, on the moto stack.

- A model bulk-loaded (:meth:`DynamoModelStore.bulk_load`, what ``bench/inventory.py``
  seeds with) leaves exactly the items that creating it through the registry, registering
  its versions and saving its production alias and drift verdict leave (timestamps aside).
- A bulk-loaded inventory lists exactly what its records say, under every filter.
- ``POST /admin/inventory/backfill`` gives models without index entries (created before the
  index existed) the entries they lack, is idempotent, and never writes an entry for a facet
  a concurrent save took away.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest

from bench.inventory import synthetic
from steward import wiring
from steward.adapters.aws.dynamodb import DynamoModelStore
from steward.domain.identity import Identity, Role
from steward.domain.inventory import ModelFilter, facets_of
from steward.domain.models import Model, ModelSpec, ModelVersion
from tests.integration.conftest import Stack
from tests.integration.support import api

# Indices of bench.inventory.synthetic chosen for variety (checked below): production with
# a drift verdict, production without one, no production, no tags, several tags.
SAMPLES = range(90_000, 90_016)


def _store() -> DynamoModelStore:
    return DynamoModelStore(boto3.client("dynamodb"), os.environ["STEWARD_REGISTRY_TABLE"])


def _items(name: str) -> list[dict[str, Any]]:
    """Every item of the model's partition (record, index entries, versions), sorted."""
    db = boto3.client("dynamodb")
    items = db.query(
        TableName=os.environ["STEWARD_REGISTRY_TABLE"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"MODEL#{name}"}},
        ConsistentRead=True,
    )["Items"]
    return sorted(items, key=lambda i: i["sk"]["S"])


def _without_times(items: list[dict[str, Any]], *names: str) -> str:
    """The items as text, with the model's names replaced and every timestamp dropped."""
    out = []
    for item in items:
        item = dict(item)
        if "doc" in item:
            doc = json.loads(item["doc"]["S"])
            for key in ("created_at", "updated_at"):
                doc.pop(key, None)
            item["doc"] = {"S": json.dumps(doc, sort_keys=True)}
        if item["sk"]["S"].startswith("V#"):  # versions sort by creation time on gsi1
            item["gsi1sk"] = {"S": item["gsi1sk"]["S"].split("#", 1)[1]}
        out.append(item)
    text = json.dumps(out, sort_keys=True)
    for name in names:
        text = text.replace(name, "<name>")
    return text


def _through_registry(model: Model, versions: list[ModelVersion], name: str) -> None:
    """What the API does: create the model (audit event, schedule, index entries in one
    transaction), register each version, then release and record drift in one save."""
    fields = ModelSpec.model_fields.keys()
    spec = ModelSpec.model_validate({**model.model_dump(include=set(fields)), "name": name})
    wiring.registry().create_model(spec, Identity(user=model.created_by, roles=frozenset(Role)))
    store = _store()
    for version in versions:
        store.add_version(version.model_copy(update={"name": name}))
    if model.rev:
        stored = store.get_model(name)
        changes = {k: getattr(model, k) for k in ("aliases", "production_history", "latest_drift")}
        store.save_model(stored.model_copy(update=changes), stored.rev)


def test_a_bulk_loaded_model_has_the_items_normal_creation_leaves(stack: Stack) -> None:
    del stack
    samples = [synthetic(i) for i in SAMPLES]
    kinds = {(bool(m.aliases), bool(m.latest_drift), len(m.tags) > 1) for m, _ in samples}
    assert len(kinds) >= 5, kinds  # the samples cover the inventory's variety
    store = _store()
    assert store.bulk_load(samples) == sum(1 + len(facets_of(m)) + len(v) for m, v in samples)
    for model, versions in samples:
        created = f"reg-{model.name}"
        _through_registry(model, versions, created)
        bulk, normal = _items(model.name), _items(created)
        assert len(bulk) == 1 + len(facets_of(model)) + len(versions)
        assert _without_times(bulk, model.name) == _without_times(normal, created, model.name)


@pytest.fixture(scope="module")
def inventory(stack: Stack) -> list[tuple[Model, list[ModelVersion]]]:
    del stack
    models = [synthetic(i) for i in range(91_000, 91_250)]
    _store().bulk_load(models)
    return models


def _listing(
    store: DynamoModelStore, where: ModelFilter, pages: list[int] | None = None
) -> list[str]:
    names, token = [], None
    while True:
        page = store.list_models(37, token, where)
        names += [m.name for m in page.items]
        if pages is not None:
            pages.append(len(page.items))
        if not (token := page.next_token):
            return names


@pytest.mark.parametrize(
    "fields",
    [
        {"owner": "owner003"},
        {"risk_tier": "high"},
        {"task": "decision"},
        {"status": "APPROVED"},
        {"status": "none"},
        {"drift": "detected"},
        {"drift": "clear"},
        {"tag": ("team:fraud",)},
        {"q": "attrition"},
        {"tag": ("region:eu",), "status": "APPROVED", "drift": "clear"},
    ],
)
def test_a_bulk_loaded_inventory_lists_what_its_records_say(
    inventory: list[tuple[Model, list[ModelVersion]]], fields: dict[str, Any]
) -> None:
    store, models = _store(), inventory
    where = ModelFilter.model_validate(fields)
    seeded = {m.name for m, _ in models}
    expected = sorted(m.name for m, _ in models if where.matches(m))
    assert expected  # the filter selects some, and not all
    assert len(expected) < len(models)
    assert [n for n in _listing(store, where) if n in seeded] == expected


def _strip_index(name: str) -> None:
    """Make the model look created before the index existed: no INV# entries."""
    db = boto3.client("dynamodb")
    for item in _items(name):
        if item["sk"]["S"].startswith("IDX#"):
            db.delete_item(
                TableName=os.environ["STEWARD_REGISTRY_TABLE"],
                Key={"pk": item["pk"], "sk": item["sk"]},
            )


def _backfill(stack: Stack, limit: int = 50) -> dict[str, int]:
    totals = {"examined": 0, "repaired": 0, "entries": 0, "calls": 0}
    token = ""
    while True:
        code, body = api(
            stack,
            "POST",
            f"/admin/inventory/backfill?limit={limit}" + (f"&next_token={token}" if token else ""),
            user="admin",
        )
        assert code == 200, body
        totals["calls"] += 1
        for key in ("examined", "repaired", "entries"):
            totals[key] += body[key]
        if not (token := body.get("next_token")):
            return totals


def test_backfill_gives_models_the_entries_they_lack_once(stack: Stack) -> None:
    store = _store()
    models = [synthetic(i)[0] for i in range(92_000, 92_030)]
    store.bulk_load((m, []) for m in models)
    for model in models:
        _strip_index(model.name)
    owner = models[0].owner
    before = _listing(store, ModelFilter(owner=owner))
    assert models[0].name not in before  # unindexed: invisible to a filtered listing
    code, _ = api(stack, "POST", "/admin/inventory/backfill", user="alice")
    assert code == 403  # admins only

    first = _backfill(stack, limit=7)
    assert first["repaired"] >= len(models) and first["calls"] > 1
    for model in models:
        entries = {i["sk"]["S"][4:] for i in _items(model.name) if i["sk"]["S"][:4] == "IDX#"}
        assert entries == facets_of(model)
    assert models[0].name in _listing(store, ModelFilter(owner=owner))
    again = _backfill(stack, limit=1000)
    assert again["repaired"] == 0 and again["entries"] == 0  # idempotent
    assert again["examined"] == first["examined"]


class _SaveFirst:
    """A DynamoDB client that lets a concurrent save land just before the first
    transaction it is asked to send."""

    def __init__(self, client: Any, save: Any) -> None:
        self._client, self._save = client, save

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self._save is not None:
            save, self._save = self._save, None
            save()
        return self._client.transact_write_items(**kwargs)


def test_backfill_never_writes_a_facet_a_concurrent_save_took_away(stack: Stack) -> None:
    del stack
    store = _store()
    model, _ = synthetic(93_000)
    model = model.model_copy(update={"name": "aaa-backfill-race", "owner": "before"})
    store.bulk_load([(model, [])])
    _strip_index(model.name)

    def concurrent_save() -> None:
        stored = store.get_model(model.name)
        store.save_model(stored.model_copy(update={"owner": "after"}), stored.rev)

    racing = DynamoModelStore(_SaveFirst(boto3.client("dynamodb"), concurrent_save), store._table)
    done = racing.backfill_index(1, None)  # "aaa-…" sorts first
    assert done.examined == 1 and done.repaired == 1
    entries = {i["sk"]["S"][4:] for i in _items(model.name) if i["sk"]["S"][:4] == "IDX#"}
    assert "owner=after" in entries and "owner=before" not in entries
    assert entries == facets_of(store.get_model(model.name))


class _Counting:
    """A DynamoDB client that counts the records ``BatchGetItem`` is asked for."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.records = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_get_item(self, **kwargs: Any) -> Any:
        self.records += sum(len(r["Keys"]) for r in kwargs["RequestItems"].values())
        return self._client.batch_get_item(**kwargs)


def test_a_combined_filter_reads_only_the_records_its_entries_match(stack: Stack) -> None:
    """The query on the first facet's index filters on the entries' copies of the other
    facets and of the search text: only matching models' records are read."""
    models = [synthetic(i)[0] for i in range(93_000, 93_120)]
    _store().bulk_load((m, []) for m in models)
    counting = _Counting(boto3.client("dynamodb"))
    store = DynamoModelStore(counting, os.environ["STEWARD_REGISTRY_TABLE"])
    for fields in (
        {"risk_tier": "low", "task": "classification", "q": "churn"},
        {"owner": "owner000", "status": "none"},
        {"tag": ("pii:no",), "q": "for"},
    ):
        where = ModelFilter.model_validate(fields)
        counting.records, pages = 0, []
        listed = _listing(store, where, pages)
        matching = [n for n in listed if n in {m.name for m in models}]
        assert matching == sorted(m.name for m in models if where.matches(m))
        # no record read that did not match, but one a full page reads to know there is more
        assert len(listed) <= counting.records <= len(listed) + len(pages), fields


def test_entries_without_copies_still_list_and_the_backfill_renews_them(stack: Stack) -> None:
    """Entries written before they carried their model's facets and text (no ``fs``,
    ``tx``) let the record judge; the backfill rewrites them."""
    store, db, table = _store(), boto3.client("dynamodb"), os.environ["STEWARD_REGISTRY_TABLE"]
    model = synthetic(94_000)[0].model_copy(update={"name": "aaa-old-entries"})
    store.bulk_load([(model, [])])
    for item in _items(model.name):
        if item["sk"]["S"].startswith("IDX#"):
            db.update_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]},
                           UpdateExpression="REMOVE fs, tx")  # fmt: skip
    where = ModelFilter(owner=model.owner, risk_tier=model.risk_tier, q=model.name)
    assert _listing(store, where) == [model.name]
    assert _listing(store, where.model_copy(update={"q": "no-such-word"})) == []
    assert _backfill(stack, limit=1000)["repaired"] >= 1
    entries = [i for i in _items(model.name) if i["sk"]["S"].startswith("IDX#")]
    assert entries and all(set(i["fs"]["SS"]) == facets_of(model) for i in entries)
    assert _backfill(stack, limit=1000)["repaired"] == 0


def test_a_description_too_long_to_copy_is_searched_on_the_record(stack: Stack) -> None:
    store = _store()
    long = "lorem " * 200 + "zeppelin"  # over MAX_INDEXED_TEXT
    model = synthetic(94_001)[0].model_copy(update={"name": "aaa-long-text", "description": long})
    store.bulk_load([(model, [])])
    assert all("tx" not in i for i in _items(model.name))
    assert _listing(store, ModelFilter(owner=model.owner, q="ZEPPELIN")) == [model.name]
    assert _listing(store, ModelFilter(q="zeppelin")) == [model.name]

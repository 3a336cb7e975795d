"""Where moto's own bookkeeping grows with what it holds, and a long-lived emulator (the
local platform, a test session's shared stack) pays for it on every request: its dashboard's
list of every object it ever made, and its whole-table backup of each transaction."""

from __future__ import annotations

import copy
import threading
from typing import Any


def untracked_model_objects() -> None:
    """moto keeps every model object it ever makes (each DynamoDB item and each copy a
    query makes of one, each S3 key with its body) in a class-level list for its dashboard,
    emptied only on reset. A long-lived emulator (the local platform, a test session's
    shared stack) then grows without bound: 52 drift runs kept 210,000 items alive for a
    table of 502, and a whole test session passed 16 GB. Steward never uses the dashboard;
    stop the tracking. Idempotent."""
    from moto.core.common_models import BaseModel

    if getattr(BaseModel.__new__, "_steward_patched", False):
        return

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return super(BaseModel, cls).__new__(cls)  # type: ignore[misc]

    new._steward_patched = True  # type: ignore[attr-defined]
    BaseModel.__new__ = staticmethod(new)  # type: ignore[method-assign]


_TRANSACTION = threading.local()
Saved = dict[tuple[str, Any, Any], Any]  # (table, hash key, range key) -> the item or None


def item_level_transaction_rollback() -> None:
    """moto backs a transaction up by deep-copying every table it writes, whole, once per
    item of the transaction: a registration (two items) copied the registry table twice,
    and a model save with its index entries up to a dozen times, so every transaction cost
    grew with the table (a test session's shared stack: seconds a transaction, and twenty
    concurrent registrations gave up). Keep its all-or-nothing answer by copying only the
    items the transaction names, and each written table's stream length, and putting them
    back when it is cancelled. Needs :func:`serialize_stores` (one request at a time).
    Idempotent."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "_steward_patched", False):
        return

    def transact(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved, streams = _transaction_items(self, transact_items)
        _TRANSACTION.active = True
        try:
            original(self, transact_items)
        except Exception:
            _put_back(self, saved, streams)
            raise
        finally:
            _TRANSACTION.active = False

    transact._steward_patched = True  # type: ignore[attr-defined]
    Table.__deepcopy__ = _table_deepcopy  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]


def _table_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
    if getattr(_TRANSACTION, "active", False):
        return self  # moto's backup in a transaction: its items are saved apart
    clone = object.__new__(type(self))
    memo[id(self)] = clone
    clone.__dict__.update(copy.deepcopy(self.__dict__, memo))
    return clone


def _transaction_items(
    backend: Any, transact_items: list[dict[str, Any]]
) -> tuple[Saved, dict[str, int]]:
    """A copy of each item the transaction names (None: absent), and each written table's
    stream length."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved: Saved = {}
    streams: dict[str, int] = {}
    for entry in transact_items:
        op: Any = next(iter(entry.values()), None)
        table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        key = (op.get("Key") or op.get("Item") or {}) if table is not None else {}
        if table is None or table.hash_key_attr not in key:
            continue  # moto rejects it before writing anything
        range_attr = table.range_key_attr
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[range_attr]) if range_attr and range_attr in key else None
        if (op["TableName"], hash_key, range_key) not in saved:
            # None: the item names no range key the table needs (moto refuses it); a key
            # of "" cannot be (DynamoDB refuses empty key values) and a key of 0 is a key
            found = range_key is not None or not range_attr
            item = table.get_item(hash_key, range_key) if found else None
            saved[(op["TableName"], hash_key, range_key)] = copy.deepcopy(item)
        if table.stream_shard is not None:
            streams.setdefault(op["TableName"], len(table.stream_shard.items))
    return saved, streams


def _put_back(backend: Any, saved: Saved, streams: dict[str, int]) -> None:
    for (name, hash_key, range_key), item in saved.items():
        items = backend.tables[name].items
        if range_key is None and item is None:
            items.pop(hash_key, None)
        elif range_key is None:
            items[hash_key] = item
        elif item is None:
            items.get(hash_key, {}).pop(range_key, None)
        else:
            items[hash_key][range_key] = item
    for name, length in streams.items():
        del backend.tables[name].stream_shard.items[length:]

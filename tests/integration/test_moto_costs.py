"""What moto's bookkeeping costs a long-lived emulator (``steward.local.moto_costs``): its
dashboard's tracking of every object it made is off, so a local platform or a test session
does not keep each overwritten S3 body and each DynamoDB item copy alive (a whole test
session once passed 16 GB, killed by the kernel); a transaction backs up the items it names,
not whole tables, with the same all-or-nothing answer."""

from __future__ import annotations

import gc
import uuid
import weakref
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.s3.models import s3_backends

from steward.local.emulator import fidelity_patches

# Unique names: a test session's shared stack may hold the same backends (nested mock_aws).
SUFFIX = uuid.uuid4().hex[:8]
BUCKET, TABLE = f"steward-memory-{SUFFIX}", f"moto-costs-{SUFFIX}"


def test_an_overwritten_s3_object_is_released() -> None:
    fidelity_patches()
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"x" * 1024)
        bucket = s3_backends["123456789012"]["global"].buckets[BUCKET]
        first = weakref.ref(bucket.keys["k"])
        del bucket
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"y" * 1024)
        gc.collect()
        assert first() is None
        s3.delete_object(Bucket=BUCKET, Key="k")
        s3.delete_bucket(Bucket=BUCKET)


def test_items_and_their_copies_are_not_tracked() -> None:
    fidelity_patches()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName=f"{TABLE}-q",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(50):
            ddb.put_item(TableName=f"{TABLE}-q", Item={"pk": {"S": f"k{i}"}})
            ddb.scan(TableName=f"{TABLE}-q")
        from moto.dynamodb.models.dynamo_type import Item

        assert Item.instances_tracked == []  # type: ignore[attr-defined]
        ddb.delete_table(TableName=f"{TABLE}-q")


def _table(ddb: Any, name: str = TABLE, sort_type: str = "S", stream: bool = True) -> None:
    """A pk/sk table (``sort_type`` the sort key's type), with a stream unless not."""
    streamed = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": sort_type},
        ],
        BillingMode="PAY_PER_REQUEST",
        **({"StreamSpecification": streamed} if stream else {}),
    )


def _put(pk: str, sk: str, **extra: str) -> dict[str, object]:
    item = {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in extra.items()}}
    return {"Put": {"TableName": TABLE, "Item": item}}


def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were() -> None:
    fidelity_patches()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        _table(ddb)
        for i in range(200):
            ddb.put_item(TableName=TABLE, Item={"pk": {"S": f"m{i}"}, "sk": {"S": "META"}})
        table = dynamodb_backends["123456789012"]["us-east-1"].tables[TABLE]
        stream = len(table.stream_shard.items)
        before = ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
        update = {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": "m1"}, "sk": {"S": "META"}},
                "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": {"S": "changed"}},
            }
        }
        failing = {
            "ConditionCheck": {
                "TableName": TABLE,
                "Key": {"pk": {"S": "m2"}, "sk": {"S": "META"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        with pytest.raises(ClientError) as cancelled:
            ddb.transact_write_items(
                TransactItems=[_put("new", "META"), update, _put("m3", "META", v="x"), failing]
            )
        assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
        assert ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"] == before
        assert len(table.stream_shard.items) == stream
        # the items were put back in place: the table was not swapped for a whole copy
        assert dynamodb_backends["123456789012"]["us-east-1"].tables[TABLE] is table
        ddb.transact_write_items(TransactItems=[_put("new", "META"), update])
        got = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "m1"}, "sk": {"S": "META"}})
        assert got["Item"]["v"] == {"S": "changed"}
        assert len(table.stream_shard.items) == stream + 2
        ddb.delete_table(TableName=TABLE)


def test_an_item_whose_range_key_is_zero_is_put_back() -> None:
    """A sort key of 0 is a key like any other: backed up, and restored on cancel."""
    fidelity_patches()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        name = f"{TABLE}-n"
        _table(ddb, name, sort_type="N", stream=False)
        key = {"pk": {"S": "m"}, "sk": {"N": "0"}}
        ddb.put_item(TableName=name, Item={**key, "v": {"S": "kept"}})
        update = {
            "Update": {
                "TableName": name,
                "Key": key,
                "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": {"S": "changed"}},
            }
        }
        ddb.put_item(TableName=name, Item={"pk": {"S": "m"}, "sk": {"N": "1"}})
        failing = {
            "ConditionCheck": {
                "TableName": name,
                "Key": {"pk": {"S": "m"}, "sk": {"N": "1"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        with pytest.raises(ClientError) as cancelled:
            ddb.transact_write_items(TransactItems=[update, failing])
        assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
        got = ddb.get_item(TableName=name, Key=key, ConsistentRead=True)
        assert got["Item"]["v"] == {"S": "kept"}
        ddb.delete_table(TableName=name)

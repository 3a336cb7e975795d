"""The emulator forgets what AWS would forget: moto's dashboard tracking of every model
object it made is off, so a long-lived local platform or test session does not keep each
overwritten S3 body and each DynamoDB item copy alive (a whole test session once passed
16 GB, killed by the kernel)."""

from __future__ import annotations

import gc
import weakref

import boto3
from moto import mock_aws
from moto.s3.models import s3_backends

from steward.local.emulator import fidelity_patches


def test_an_overwritten_s3_object_is_released() -> None:
    fidelity_patches()
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="steward-memory")
        s3.put_object(Bucket="steward-memory", Key="k", Body=b"x" * 1024)
        bucket = s3_backends["123456789012"]["global"].buckets["steward-memory"]
        first = weakref.ref(bucket.keys["k"])
        del bucket
        s3.put_object(Bucket="steward-memory", Key="k", Body=b"y" * 1024)
        gc.collect()
        assert first() is None


def test_items_a_query_copies_are_released() -> None:
    fidelity_patches()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(50):
            ddb.put_item(TableName="t", Item={"pk": {"S": f"k{i}"}})
        from moto.dynamodb.models.dynamo_type import Item

        gc.collect()
        before = sum(isinstance(o, Item) for o in gc.get_objects())
        for _ in range(20):
            ddb.scan(TableName="t")
            ddb.put_item(TableName="t", Item={"pk": {"S": "k0"}})
        gc.collect()
        assert sum(isinstance(o, Item) for o in gc.get_objects()) <= before

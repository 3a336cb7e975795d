"""Registry guarantees on the DynamoDB/S3 adapters (moto): concurrency, integrity, audit."""

from __future__ import annotations

import io
import os
import threading

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from steward import wiring
from steward.domain.errors import IntegrityError
from steward.domain.identity import UserDirectory
from steward.domain.models import ModelSpec
from steward.registry.requests import RegisterVersion
from tests.factories import model_spec, reference_rows, register_body
from tests.integration.conftest import Stack

USERS = UserDirectory()


def _create(name: str) -> None:
    wiring.registry().create_model(
        ModelSpec.model_validate(model_spec(name)), USERS.identify("alice")
    )


def test_twenty_concurrent_registrations_yield_versions_1_to_20(stack: Stack) -> None:
    _create("conc-twenty")
    registry = wiring.registry()
    numbers: list[int] = []
    errors: list[BaseException] = []
    request = RegisterVersion.model_validate(register_body())
    barrier = threading.Barrier(20)

    def register() -> None:
        barrier.wait()
        try:
            numbers.append(
                registry.register_version("conc-twenty", request, USERS.identify("alice")).version
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 21))
    assert registry.get_model("conc-twenty").latest_version == 20


def test_a_flipped_byte_in_a_stored_artifact_fails_the_load(stack: Stack) -> None:
    from moto.s3.models import s3_backends

    _create("flip-byte")
    registry = wiring.registry()
    version = registry.register_version(
        "flip-byte", RegisterVersion.model_validate(register_body()), USERS.identify("alice")
    )
    bucket, key = version.artifact.uri[5:].split("/", 1)
    stored = s3_backends["123456789012"]["aws"].get_object(
        bucket, key, version.artifact.s3_version_id
    )
    data = bytearray(stored.value)
    data[10] ^= 0x01
    stored.value = bytes(data)  # what bit rot, or someone with storage access, would do
    with pytest.raises(IntegrityError):
        registry.load_artifact(version)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_reference_data_from_s3(stack: Stack, fmt: str) -> None:
    rows = reference_rows(300)
    table = pa.Table.from_pylist(rows)
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink)
    else:
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, sink)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="team-data")
    s3.put_object(Bucket="team-data", Key=f"churn/reference.{fmt}", Body=sink.getvalue())
    name = f"s3-ref-{fmt}"
    _create(name)
    body = register_body(reference_data={"uri": f"s3://team-data/churn/reference.{fmt}"})
    del body["signature"]  # inferred from the file
    version = wiring.registry().register_version(
        name, RegisterVersion.model_validate(body), USERS.identify("alice")
    )
    assert version.profile is not None and version.profile["rows"] == 300
    assert {f.name for f in version.signature.inputs} == {"tenure", "charges", "plan"}
    assert version.signature.feature("plan").type == "string"  # type: ignore[union-attr]


def test_tampering_with_the_audit_table_is_detected(stack: Stack) -> None:
    _create("audit-tamper")
    registry = wiring.registry()
    assert registry.verify_audit("audit-tamper").ok
    db = boto3.client("dynamodb")
    table = os.environ["STEWARD_AUDIT_TABLE"]
    item = db.get_item(TableName=table, Key={"stream": {"S": "audit-tamper"}, "seq": {"N": "1"}})[
        "Item"
    ]
    forged = item["doc"]["S"].replace('"actor":"alice"', '"actor":"mallory"')
    assert forged != item["doc"]["S"]
    db.put_item(TableName=table, Item={**item, "doc": {"S": forged}})  # direct storage access
    report = registry.verify_audit("audit-tamper")
    assert not report.ok and report.broken_at == 1

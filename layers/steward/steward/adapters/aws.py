"""boto3 adapters of the ports: DynamoDB, S3, Step Functions.

Items keep the record as one JSON document (``doc``) next to the few attributes that keys,
indexes and conditions need; conditional writes give compare-and-set semantics.
"""

from __future__ import annotations

import base64
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TypeVar

from botocore.exceptions import ClientError, FlexibleChecksumError
from pydantic_core import to_json

from steward.domain.audit import AuditEvent
from steward.domain.errors import AlreadyExists, Conflict, IntegrityError, NotFound
from steward.domain.forwarding import FORWARDED_MARK
from steward.domain.models import Model, ModelVersion, Page, Status, page_offset
from steward.ports import (
    ArtifactStore,
    AuditLog,
    LogSink,
    ModelStore,
    Notifier,
    WorkflowEngine,
)
from steward.ports.monitoring import (
    RUN_FAILED,
    DriftRuns,
    EventBus,
    LogFiles,
    ReportStore,
    RunStatus,
    RunStore,
    Schedules,
    listing_of,
)

T = TypeVar("T")
SPOOL_BYTES = 8 * 1024 * 1024  # log files up to this size are read in memory, larger on disk
INDEX = "gsi1"
AUDIT_DAY_INDEX = "by-day"
MODEL_KIND = "MODEL"


SCAN_PAGES = 5  # executions listed per state machine: 5,000 at most
RERUNS = 20  # names tried for one drift window (a start per name) before a unique one
# Step Functions says so when a task token no longer waits.
GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _encode_token(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def _decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        key: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.encode()))
        return key
    except (ValueError, TypeError):
        from steward.domain.errors import BadRequest

        raise BadRequest("next_token is not valid") from None


def _query_page(
    db: Any, kwargs: dict[str, Any], token: str | None, convert: Callable[[dict[str, Any]], T]
) -> Page[T]:
    """One page of a DynamoDB query, with an opaque continuation token."""
    if start := _decode_token(token):
        kwargs["ExclusiveStartKey"] = start
    page = db.query(**kwargs)
    return Page(
        items=[convert(i) for i in page.get("Items", [])],
        next_token=_encode_token(page.get("LastEvaluatedKey")),
    )


def _pk(name: str) -> dict[str, str]:
    return {"S": f"MODEL#{name}"}


def _vsk(version: int) -> dict[str, str]:
    return {"S": f"V#{version:010d}"}


class DynamoModelStore(ModelStore):
    """:class:`~steward.ports.ModelStore` on one DynamoDB table (pk/sk, GSI ``gsi1``)."""

    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    # models
    def create_model(self, model: Model) -> None:
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "pk": _pk(model.name),
                    "sk": {"S": "META"},
                    "doc": {"S": model.model_dump_json()},
                    "rev": {"N": str(model.rev)},
                    "latest_version": {"N": "0"},
                    "gsi1pk": {"S": MODEL_KIND},
                    "gsi1sk": {"S": model.name},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise AlreadyExists(f"model {model.name} exists") from None
            raise

    @staticmethod
    def _model(item: dict[str, Any]) -> Model:
        model = Model.model_validate_json(item["doc"]["S"])
        model.rev = int(item["rev"]["N"])
        model.latest_version = int(item["latest_version"]["N"])
        return model

    def get_model(self, name: str) -> Model:
        item = self._db.get_item(
            TableName=self._table, Key={"pk": _pk(name), "sk": {"S": "META"}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            raise NotFound(f"no model {name}")
        return self._model(item)

    def list_models(self, limit: int, token: str | None) -> Page[Model]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INDEX,
            "KeyConditionExpression": "gsi1pk = :k",
            "ExpressionAttributeValues": {":k": {"S": MODEL_KIND}},
            "Limit": limit,
        }
        return _query_page(self._db, kwargs, token, self._model)

    def save_model(self, model: Model, expected_rev: int) -> Model:
        saved = model.model_copy(update={"rev": expected_rev + 1})
        try:
            result = self._db.update_item(
                TableName=self._table,
                Key={"pk": _pk(model.name), "sk": {"S": "META"}},
                UpdateExpression="SET doc = :doc, rev = :next",
                ConditionExpression="rev = :rev",
                ExpressionAttributeValues={
                    ":doc": {"S": saved.model_dump_json()},
                    ":next": {"N": str(expected_rev + 1)},
                    ":rev": {"N": str(expected_rev)},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise Conflict(f"model {model.name} changed meanwhile; retry") from None
            raise
        return self._model(result["Attributes"])

    # versions
    def _version_item(self, version: ModelVersion) -> dict[str, Any]:
        return {
            "pk": _pk(version.name),
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
                            "Key": {"pk": _pk(version.name), "sk": {"S": "META"}},
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
            if _code(exc) in ("TransactionCanceledException", "ConditionalCheckFailedException"):
                raise Conflict(f"version {version.version} of {version.name} was taken") from None
            raise

    def get_version(self, name: str, version: int) -> ModelVersion:
        item = self._db.get_item(
            TableName=self._table, Key={"pk": _pk(name), "sk": _vsk(version)}, ConsistentRead=True
        ).get("Item")
        if item is None:
            raise NotFound(f"no version {version} of {name}")
        return ModelVersion.model_validate_json(item["doc"]["S"])

    def list_versions(self, name: str, limit: int, token: str | None) -> Page[ModelVersion]:
        self.get_model(name)
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :v)",
            "ExpressionAttributeValues": {":pk": _pk(name), ":v": {"S": "V#"}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        return _query_page(
            self._db, kwargs, token, lambda i: ModelVersion.model_validate_json(i["doc"]["S"])
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
            if _code(exc) == "ConditionalCheckFailedException":
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
        return _query_page(
            self._db, kwargs, token, lambda i: ModelVersion.model_validate_json(i["doc"]["S"])
        )

    # task tokens: their own items, never part of a version document
    def put_task_token(self, name: str, version: int, token: str) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={"pk": _pk(name), "sk": {"S": f"TOKEN#{version:010d}"}, "token": {"S": token}},
        )

    def put_audit_checkpoint(self, name: str, seq: int, digest: str) -> None:
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": _pk(name),
                "sk": {"S": "AUDIT#CHECKPOINT"},
                "seq": {"N": str(seq)},
                "digest": {"S": digest},
            },
        )

    def audit_checkpoint(self, name: str) -> tuple[int, str] | None:
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": _pk(name), "sk": {"S": "AUDIT#CHECKPOINT"}},
            ConsistentRead=True,
        ).get("Item")
        return (int(item["seq"]["N"]), str(item["digest"]["S"])) if item else None

    def task_token(self, name: str, version: int) -> str | None:
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": _pk(name), "sk": {"S": f"TOKEN#{version:010d}"}},
            ConsistentRead=True,
        ).get("Item")
        return str(item["token"]["S"]) if item else None

    def take_task_token(self, name: str, version: int) -> str | None:
        try:
            result = self._db.delete_item(
                TableName=self._table,
                Key={"pk": _pk(name), "sk": {"S": f"TOKEN#{version:010d}"}},
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return str(result["Attributes"]["token"]["S"])


class DynamoAuditLog(AuditLog):
    """:class:`~steward.ports.AuditLog` on a table keyed (stream, seq); put-only."""

    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    @staticmethod
    def _event(item: dict[str, Any]) -> AuditEvent:
        return AuditEvent.model_validate_json(item["doc"]["S"])

    def head(self, stream: str) -> AuditEvent | None:
        page = self._db.query(
            TableName=self._table,
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "stream"},
            ExpressionAttributeValues={":s": {"S": stream}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = page.get("Items", [])
        return self._event(items[0]) if items else None

    def put(self, event: AuditEvent) -> None:
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "stream": {"S": event.stream},
                    "seq": {"N": str(event.seq)},
                    "doc": {"S": event.model_dump_json()},
                    "day": {"S": event.at.date().isoformat()},
                    "at": {"S": f"{event.at.isoformat()}#{event.stream}#{event.seq:012d}"},
                },
                ConditionExpression="attribute_not_exists(#s)",
                ExpressionAttributeNames={"#s": "stream"},
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise Conflict(f"audit event {event.stream}#{event.seq} exists") from None
            raise

    def events(self, stream: str, limit: int, token: str | None) -> Page[AuditEvent]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "stream"},
            "ExpressionAttributeValues": {":s": {"S": stream}},
            "Limit": limit,
            "ConsistentRead": True,
        }
        return _query_page(self._db, kwargs, token, self._event)

    def recent(self, limit: int, token: str | None) -> Page[AuditEvent]:
        """Newest first, across streams: a scan sorted in memory for small trails; the
        by-day index serves large ones day by day."""
        events: list[AuditEvent] = []
        kwargs: dict[str, Any] = {"TableName": self._table}
        while True:
            page = self._db.scan(**kwargs)
            events += [self._event(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        events.sort(key=lambda e: (e.at, e.stream, e.seq), reverse=True)
        start = page_offset(token)
        chunk = events[start : start + limit]
        more = start + limit < len(events)
        return Page(items=chunk, next_token=str(start + limit) if more else None)

    def streams(self) -> list[str]:
        names: set[str] = set()
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "ProjectionExpression": "#s",
            "ExpressionAttributeNames": {"#s": "stream"},
        }
        while True:
            page = self._db.scan(**kwargs)
            names.update(i["stream"]["S"] for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(names)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        from steward.domain.errors import ValidationFailed

        raise ValidationFailed(f"not an s3:// URI: {uri}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


class S3ArtifactStore(ArtifactStore):
    """:class:`~steward.ports.ArtifactStore` on a versioned S3 bucket."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def put(self, key: str, data: bytes) -> tuple[str, str | None]:
        import hashlib

        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        result = self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
        )
        return f"s3://{self._bucket}/{key}", result.get("VersionId")

    def get(self, uri: str, version_id: str | None = None) -> bytes:
        bucket, key = _split_s3(uri)
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            body: bytes = self._s3.get_object(**kwargs)["Body"].read()
        except FlexibleChecksumError:
            raise IntegrityError(f"{uri} does not match the checksum S3 stored for it") from None
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "NoSuchVersion", "404", "NoSuchBucket"):
                raise NotFound(f"no object at {uri}") from None
            if _code(exc) in ("AccessDenied", "403"):
                from steward.domain.errors import Forbidden

                raise Forbidden(f"Steward may not read {uri}") from None
            raise
        return body

    def discard(self, uri: str) -> None:
        bucket, key = _split_s3(uri)
        self._s3.delete_object(Bucket=bucket, Key=key)  # a delete marker: locked versions stay


class StepFunctionsEngine(WorkflowEngine):
    """:class:`~steward.ports.WorkflowEngine` on Step Functions."""

    def __init__(self, client: Any, approval_arn: str, retrain_arn: str = "") -> None:
        self._sfn = client
        self._approval_arn = approval_arn
        self._retrain_arn = retrain_arn

    def approval_id(self, name: str, version: int) -> str:
        return f"{self._approval_arn.replace(':stateMachine:', ':execution:')}:{name}-v{version}"

    def start_approval(self, name: str, version: int) -> str:
        try:  # one execution per version, named after it: starting twice is harmless
            result = self._sfn.start_execution(
                stateMachineArn=self._approval_arn,
                name=f"{name}-v{version}",
                input=json.dumps({"name": name, "version": version}),
            )
            return str(result["executionArn"])
        except ClientError as exc:
            if _code(exc) == "ExecutionAlreadyExists":
                return self.approval_id(name, version)
            raise

    def resume(self, token: str, output: dict[str, Any]) -> None:
        try:
            self._sfn.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as exc:
            if _code(exc) in GONE:
                return  # the workflow already moved on (expired or ended): nothing to resume
            raise

    def heartbeat(self, token: str) -> bool:
        try:
            self._sfn.send_task_heartbeat(taskToken=token)
        except ClientError as exc:
            if _code(exc) in GONE:
                return False
            raise
        return True

    def executions(self, name: str, limit: int) -> list[dict[str, Any]]:
        """Executions are named after the model (``<name>-v<n>``, ``<name>-<trigger>-...``);
        at most ``SCAN_PAGES`` pages of each machine are read, newest first."""
        found: list[dict[str, Any]] = []
        machines = (("approval", self._approval_arn), ("retrain", self._retrain_arn))
        for kind, arn in machines:
            if not arn:
                continue
            kwargs: dict[str, Any] = {"stateMachineArn": arn, "maxResults": 1000}
            for _ in range(SCAN_PAGES):
                page = self._sfn.list_executions(**kwargs)
                for item in page["executions"]:
                    if item["name"].startswith(f"{name}-"):
                        found.append(
                            {
                                "kind": kind,
                                "name": item["name"],
                                "status": item["status"],
                                "started": item["startDate"].isoformat(),
                                "stopped": item["stopDate"].isoformat()
                                if item.get("stopDate")
                                else None,
                            }
                        )
                if not (token := page.get("nextToken")):
                    break
                kwargs["nextToken"] = token
        found.sort(key=lambda e: e["started"], reverse=True)
        return found[:limit]

    def start_retrain(self, name: str, run: str, payload: dict[str, Any]) -> str:
        if not self._retrain_arn:
            raise RuntimeError("environment variable STEWARD_RETRAIN_STATE_MACHINE_ARN is not set")
        try:
            result = self._sfn.start_execution(
                stateMachineArn=self._retrain_arn, name=run, input=json.dumps(payload)
            )
            return str(result["executionArn"])
        except ClientError as exc:  # the same name: running (same input) or closed
            if _code(exc) == "ExecutionAlreadyExists":
                execution = self._retrain_arn.replace(":stateMachine:", ":execution:")
                return f"{execution}:{run}"
            raise


class SnsNotifier(Notifier):
    """:class:`~steward.ports.Notifier` on an SNS topic (subscribers: e-mail, chat, tickets)."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self._topic = topic_arn

    def publish(self, subject: str, message: dict[str, Any]) -> None:
        self._sns.publish(
            TopicArn=self._topic,
            Subject=subject[:100],
            Message=json.dumps(message, default=str),
        )


MAX_MESSAGE_BYTES = 240 * 1024  # under SQS's 256 KiB, leaving room for attributes


class SqsLogSink(LogSink):
    """:class:`~steward.ports.LogSink` on an SQS queue: one message per batch, split by
    rows when a batch would exceed the message size limit."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._queue_url = queue_url

    @staticmethod
    def _bodies(kind: str, model: str, batch: dict[str, Any]) -> list[str]:
        # pydantic-core's serializer: several times faster than json.dumps on 1,000 rows.
        body = to_json({"kind": kind, "model": model, **batch}).decode()
        rows = int(batch["rows"])
        if len(body) <= MAX_MESSAGE_BYTES or rows <= 1:
            return [body]
        half = rows // 2
        parts = []
        for lo, hi in ((0, half), (half, rows)):
            columns = {
                k: ({n: v[lo:hi] for n, v in c.items()} if k == "features" else c[lo:hi])
                for k, c in batch["columns"].items()
            }
            parts += SqsLogSink._bodies(kind, model, {**batch, "rows": hi - lo, "columns": columns})
        return parts

    def send(self, kind: str, model: str, batch: dict[str, Any]) -> None:
        from steward.domain.errors import DependencyUnavailable

        bodies = self._bodies(kind, model, batch)
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(i), "MessageBody": body}
                for i, body in enumerate(bodies[start : start + 10])
            ]
            for _ in range(3):
                result = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
                failed = {f["Id"] for f in result.get("Failed", [])}
                entries = [e for e in entries if e["Id"] in failed]
                if not entries:
                    break
            if entries:
                raise DependencyUnavailable("the prediction log queue refused records; retry")


class LambdaForwarder:
    """Hands an API Gateway event to another function (synchronous Invoke) and returns its
    proxy response: the zip scoring function forwards the flavors it does not ship."""

    MARK = FORWARDED_MARK

    def __init__(self, client: Any, function_name: str) -> None:
        self._lambda = client
        self._function = function_name

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        from steward.domain.errors import DependencyUnavailable, PayloadTooLarge

        payload = json.dumps({**event, self.MARK: True}).encode()
        try:
            result = self._lambda.invoke(
                FunctionName=self._function, InvocationType="RequestResponse", Payload=payload
            )
        except ClientError as exc:
            if _code(exc) == "RequestTooLargeException":
                raise PayloadTooLarge("request too large to forward: split the batch") from None
            raise DependencyUnavailable("the scoring image function is unavailable") from None
        answer = json.loads(result["Payload"].read() or b"null")
        if (
            result.get("FunctionError")
            or not isinstance(answer, dict)
            or "statusCode" not in answer
        ):
            raise DependencyUnavailable("the scoring image function failed; retry")
        return answer


class S3LogFiles(LogFiles):
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        ):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def read(self, key: str) -> bytes:
        data: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        return data

    def sizes(self, prefix: str) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        ):
            sizes.update((o["Key"], int(o["Size"])) for o in page.get("Contents", []))
        return sizes

    def tail(self, key: str, size: int) -> bytes:
        response = self._s3.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=-{size}")
        data: bytes = response["Body"].read()
        return data

    @contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        """Downloaded in chunks (ranged GETs, in parallel for large objects) into a spooled
        temporary file: in memory up to ``SPOOL_BYTES``, on local disk (/tmp) beyond, so a
        large log file never sits in memory whole."""
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as file:
            self._s3.download_fileobj(self._bucket, key, file)
            file.seek(0)
            yield file


class S3RunStore(RunStore):
    """Run scratch objects in the reports bucket (expired by a lifecycle rule)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def put(self, key: str, data: bytes) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        try:
            data: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                raise NotFound(f"no run object {key}") from None
            raise
        return data


class StepFunctionsDriftRuns(DriftRuns):
    """:class:`~steward.ports.monitoring.DriftRuns` on the distributed drift state machine.

    The execution is named after the run (the window), with the same input for the same
    name. Step Functions answers a start of a running execution's name and input with that
    execution, and ``ExecutionAlreadyExists`` only when it has closed (names are kept 90
    days): then the window is run again under the next name, ``<model>-<run>-1``, ``-2``...
    So starting a window while it runs joins that run, and starting it after it finished
    (or failed) runs it again, as an inline evaluation would; both write the same report."""

    def __init__(self, client: Any, state_machine_arn: str, reruns: int = RERUNS) -> None:
        self._sfn = client
        self._arn = state_machine_arn
        self._reruns = reruns

    def start(self, model: str, start: str, end: str, run_id: str) -> str:
        payload = json.dumps({"model": model, "start": start, "end": end})
        for attempt in range(self._reruns):
            try:
                return self._start(execution_name(model, run_id, attempt), payload)
            except ClientError as exc:
                if _code(exc) != "ExecutionAlreadyExists":  # closed: run it again
                    raise
        # Run that often within 90 days: a name of its own (no longer joins a running one).
        return self._start(execution_name(model, run_id, time.time_ns()), payload)

    def _start(self, name: str, payload: str) -> str:
        result = self._sfn.start_execution(stateMachineArn=self._arn, name=name, input=payload)
        return str(result["executionArn"])

    def status(self, model: str, run_id: str) -> RunStatus:
        """Describe the window's names in the order :meth:`start` takes them, up to the first
        that never ran, and keep the latest started (a name freed after 90 days is taken
        again); past the reruns, the unique names are found by listing the executions."""
        found: list[dict[str, Any]] = []
        for attempt in range(self._reruns):
            described = self._describe(
                f"{self._executions}:{execution_name(model, run_id, attempt)}"
            )
            if described is None:
                break
            found.append(described)
        else:
            found += self._unique(run_id)
        if not found:
            raise NotFound(f"no drift run {run_id} for {model}")
        latest = max(found, key=lambda e: e["startDate"])
        own = latest.get("error") == RUN_FAILED  # never a step's error or its text
        status = latest["status"]
        return RunStatus(
            report_id=run_id,
            model=model,
            status="RUNNING" if status == "PENDING_REDRIVE" else status,
            started_at=latest["startDate"],
            stopped_at=latest.get("stopDate"),
            execution=latest["executionArn"],
            error=RUN_FAILED if own else None,
            cause=latest.get("cause") if own else None,
        )

    @property
    def _executions(self) -> str:
        return self._arn.replace(":stateMachine:", ":execution:", 1)

    def _describe(self, arn: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._sfn.describe_execution(executionArn=arn)
        except ClientError as exc:
            if _code(exc) in ("ExecutionDoesNotExist", "InvalidArn", "InvalidName"):
                return None
            raise
        return found

    def _unique(self, run_id: str) -> list[dict[str, Any]]:
        """The window's time-suffixed executions in the newest ``SCAN_PAGES`` pages."""
        kwargs: dict[str, Any] = {"stateMachineArn": self._arn, "maxResults": 1000}
        named: list[dict[str, Any]] = []
        for _ in range(SCAN_PAGES):
            page = self._sfn.list_executions(**kwargs)
            named += [e for e in page["executions"] if f"-{run_id}-" in e["name"]]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        if not named:
            return []
        latest = self._describe(max(named, key=lambda e: e["startDate"])["executionArn"])
        return [latest] if latest is not None else []


def execution_name(model: str, run_id: str, attempt: int = 0) -> str:
    """``<model>-<run>``, then ``<model>-<run>-<attempt>``: the model is cut to fit Step
    Functions' 80 characters, never the run id (which tells the windows apart)."""
    suffix = f"-{run_id}" + (f"-{attempt}" if attempt else "")
    return model[: 80 - len(suffix)] + suffix


class EventBridgeSchedules(Schedules):
    """:class:`~steward.ports.monitoring.Schedules` on EventBridge Scheduler: one schedule per
    model in one group, targeting the drift function with ``{"model": name}``, flexible
    window off, bounded retries and a dead-letter queue."""

    def __init__(
        self, client: Any, group: str, target_arn: str, role_arn: str, dead_letter_arn: str
    ) -> None:
        self._scheduler = client
        self._group = group
        self._target = {
            "Arn": target_arn,
            "RoleArn": role_arn,
            "DeadLetterConfig": {"Arn": dead_letter_arn},
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2},
        }

    def put(self, model: str, expression: str) -> None:
        spec = {
            "Name": model,
            "GroupName": self._group,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Description": f"Drift evaluation of {model}",
            "State": "ENABLED",
            "Target": {**self._target, "Input": json.dumps({"model": model})},
        }
        if self.get(model) is None:
            try:
                self._scheduler.create_schedule(**spec)
                return
            except ClientError as exc:
                if _code(exc) != "ConflictException":
                    raise
        self._scheduler.update_schedule(**spec)

    def get(self, model: str) -> str | None:
        try:
            found = self._scheduler.get_schedule(Name=model, GroupName=self._group)
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return None
            raise
        expression: str = found["ScheduleExpression"]
        return expression

    def delete(self, model: str) -> None:
        try:
            self._scheduler.delete_schedule(Name=model, GroupName=self._group)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise


class S3DynamoReportStore(ReportStore):
    """Reports in S3 (``drift/<name>/<id>.json`` and ``.html``), a summary row per report
    in the registry table for listing."""

    def __init__(self, s3: Any, bucket: str, dynamodb: Any, table: str) -> None:
        self._s3, self._bucket = s3, bucket
        self._db, self._table = dynamodb, table

    def save(self, model: str, report: dict[str, Any], html: str) -> None:
        base = f"drift/{model}/{report['report_id']}"
        for suffix, body, content_type in (
            ("json", json.dumps(report), "application/json"),
            ("html", html, "text/html; charset=utf-8"),
        ):
            self._s3.put_object(
                Bucket=self._bucket,
                Key=f"{base}.{suffix}",
                Body=body.encode(),
                ContentType=content_type,
            )
        summary = listing_of(report)
        self._db.put_item(
            TableName=self._table,
            Item={
                "pk": _pk(model),
                "sk": {"S": f"DRIFT#{report['created_at']}#{report['report_id']}"},
                "doc": {"S": json.dumps(summary)},
            },
        )

    def get(self, model: str, report_id: str, kind: str = "json") -> str:
        key = f"drift/{model}/{report_id}.{'html' if kind == 'html' else 'json'}"
        try:
            body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                raise NotFound(f"no drift report {report_id} for {model}") from None
            raise
        return body.decode()

    def summaries(self, model: str, limit: int, token: str | None) -> Page[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :d)",
            "ExpressionAttributeValues": {":pk": _pk(model), ":d": {"S": "DRIFT#"}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        return _query_page(self._db, kwargs, token, lambda i: json.loads(i["doc"]["S"]))


class EventBridgeBus(EventBus):
    SOURCE = "steward"

    def __init__(self, client: Any, bus: str) -> None:
        self._events = client
        self._bus = bus

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        result = self._events.put_events(
            Entries=[
                {
                    "Source": self.SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self._bus,
                }
            ]
        )
        if result.get("FailedEntryCount"):
            from steward.domain.errors import DependencyUnavailable

            raise DependencyUnavailable("the event bus refused the event; retry")

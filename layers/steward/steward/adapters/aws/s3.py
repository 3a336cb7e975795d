"""S3 adapters: model artifacts (a versioned bucket), prediction log files, drift run
scratch objects, the write-once audit copy."""

from __future__ import annotations

import base64
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import IO, Any

from botocore.exceptions import ClientError, FlexibleChecksumError

from steward.adapters.aws.shared import error_code
from steward.domain.audit import AuditEvent
from steward.domain.errors import IntegrityError, NotFound
from steward.domain.partitions import prefixes
from steward.ports import (
    ArtifactStore,
)
from steward.ports.audit import COPY_PREFIX, AuditCopy, copy_key, parse_copy_key
from steward.ports.evidence import PackStore
from steward.ports.monitoring import (
    LogFiles,
    RunStore,
)

SPOOL_BYTES = 8 * 1024 * 1024  # log files up to this size are read in memory, larger on disk


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
            if error_code(exc) in ("NoSuchKey", "NoSuchVersion", "404", "NoSuchBucket"):
                raise NotFound(f"no object at {uri}") from None
            if error_code(exc) in ("AccessDenied", "403"):
                from steward.domain.errors import Forbidden

                raise Forbidden(f"Steward may not read {uri}") from None
            raise
        return body

    def discard(self, uri: str) -> None:
        bucket, key = _split_s3(uri)
        self._s3.delete_object(Bucket=bucket, Key=key)  # a delete marker: locked versions stay

    def uris_under(self, prefix_uri: str, limit: int) -> list[str]:
        from steward.domain.errors import Forbidden, ValidationFailed

        bucket, prefix = _split_s3(prefix_uri)
        found: list[str] = []
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix
            ):
                found += [f"s3://{bucket}/{o['Key']}" for o in page.get("Contents", [])]
                if len(found) > limit:
                    raise ValidationFailed(f"{prefix_uri} holds more than {limit} objects")
        except ClientError as exc:
            if error_code(exc) in ("AccessDenied", "403", "NoSuchBucket"):
                raise Forbidden(f"Steward may not list {prefix_uri}") from None
            raise
        return found


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

    def window_keys(self, kind: str, model: str, start: datetime, end: datetime) -> list[str]:
        """One listing from the window's first hour to past its last: hour folders sort by
        time (``date=YYYY-MM-DD/hour=HH/``), so S3's key order is the window's. A 7-day
        window cost 168 listings hour by hour (8 s on the local platform); now one page
        per 1,000 files."""
        wanted = prefixes(kind, model, start, end)
        if not wanted:
            return []
        hours, stop = set(wanted), wanted[-1]
        keys: list[str] = []
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=f"{kind}/model={model}/", StartAfter=wanted[0]
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                if key[: len(stop)] > stop:  # past the last hour: S3 lists in key order
                    return keys
                if key[: len(stop)] in hours:
                    keys.append(key)
        return keys

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
            if error_code(exc) in ("NoSuchKey", "404"):
                raise NotFound(f"no run object {key}") from None
            raise
        return data


class S3PackStore(PackStore):
    """Evidence packs too large to answer inline, under ``evidence/`` of the reports bucket,
    fetched through a presigned GET (the function's role may read that prefix only)."""

    PREFIX = "evidence/"

    def __init__(self, client: Any, bucket: str, expires_s: int = 900) -> None:
        self._s3 = client
        self._bucket = bucket
        self.expires_s = expires_s

    def keep(self, key: str, file: IO[bytes]) -> str:
        target = self.PREFIX + key
        self._s3.upload_fileobj(
            file, self._bucket, target, ExtraArgs={"ContentType": "application/zip"}
        )
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": target},
            ExpiresIn=self.expires_s,
        )
        return url


class S3AuditCopy(AuditCopy):
    """:class:`~steward.ports.audit.AuditCopy` on a bucket with Object Lock in compliance
    mode. Each event is written once (``If-None-Match: *``; the bucket policy refuses any
    other put) under a key naming its content digest; reads list every object version, so
    that a delete marker cannot hide a copy."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def archive(self, event: AuditEvent) -> bool:
        body = event.model_dump_json().encode()
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=copy_key(event),
                Body=body,
                IfNoneMatch="*",
                ContentType="application/json",
                ChecksumAlgorithm="SHA256",  # Object Lock requires a checksum on puts
                ChecksumSHA256=checksum,
            )
        except ClientError as exc:
            if error_code(exc) in ("PreconditionFailed", "412"):
                return False  # the same key names the same content: copied already
            raise
        return True

    def _versions(self, prefix: str, delimiter: str | None = None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        yield from self._s3.get_paginator("list_object_versions").paginate(**kwargs)

    def digests(self, stream: str) -> dict[int, set[str]]:
        found: dict[int, set[str]] = {}
        for page in self._versions(f"{COPY_PREFIX}{stream}/"):
            for version in page.get("Versions", []):
                parsed = parse_copy_key(version["Key"])
                if parsed and parsed[0] == stream:
                    found.setdefault(parsed[1], set()).add(parsed[2])
        return found

    def streams(self) -> list[str]:
        names: set[str] = set()
        for page in self._versions(COPY_PREFIX, delimiter="/"):
            names.update(p["Prefix"][len(COPY_PREFIX) : -1] for p in page.get("CommonPrefixes", []))
        return sorted(names)

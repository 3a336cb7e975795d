"""Artifacts are read by S3 version id and refused unless they hash to the registered sha256."""

from __future__ import annotations

import hashlib

from steward.domain.errors import Forbidden, IntegrityError
from steward.domain.models import ModelVersion
from steward.ports import ArtifactStore


def fetch_verified(artifacts: ArtifactStore, version: ModelVersion) -> bytes:
    try:
        data = artifacts.get(version.artifact.uri, version.artifact.s3_version_id)
    except Forbidden:
        # Steward's own artifact: a refusal is a misconfiguration, not the caller's fault
        # (and the message, naming the bucket, is not theirs to read): a generic 500.
        raise PermissionError("the artifact store refused to read an artifact") from None
    if hashlib.sha256(data).hexdigest() != version.sha256:
        raise IntegrityError(
            f"artifact of {version.name}/{version.version} does not match its sha256"
        )
    return data

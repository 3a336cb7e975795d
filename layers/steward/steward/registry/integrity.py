"""Artifacts are read by S3 version id and refused unless they hash to the registered sha256."""

from __future__ import annotations

import hashlib

from steward.domain.errors import IntegrityError
from steward.domain.models import ModelVersion
from steward.ports import ArtifactStore


def fetch_verified(artifacts: ArtifactStore, version: ModelVersion) -> bytes:
    data = artifacts.get(version.artifact.uri, version.artifact.s3_version_id)
    if hashlib.sha256(data).hexdigest() != version.sha256:
        raise IntegrityError(
            f"artifact of {version.name}/{version.version} does not match its sha256"
        )
    return data

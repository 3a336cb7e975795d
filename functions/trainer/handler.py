"""Lambda entry point of the ``lambda`` trainer backend: one staged run of the team's own
training code (:mod:`steward.training.worker`), for jobs of up to 15 minutes. Its role reads
only ``training/*/input/*`` and writes only ``training/*/output/*`` of the artifacts bucket;
it holds no registry access and passes none of its credentials to the trainer."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from steward.training import worker

logger = Logger(service="steward-trainer")
CACHE = Path(os.environ.get("STEWARD_TRAINER_CACHE", "/tmp/steward-trainers"))  # noqa: S108


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    import boto3

    from steward.adapters.aws.s3 import S3ArtifactStore

    store = S3ArtifactStore(boto3.client("s3"), os.environ["STEWARD_ARTIFACTS_BUCKET"])
    # A folder per run (removed after: /tmp outlives the invocation in a warm Lambda); the
    # environments stay cached by their requirements' hash.
    with tempfile.TemporaryDirectory(prefix="steward-ml-") as root:
        return worker.run(store, event, Path(root), CACHE)

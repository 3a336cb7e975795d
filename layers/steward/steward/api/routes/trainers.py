"""A model's own trainer: its source zip and how it runs (the retrain policy's ``custom``)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from steward.api.context import caller
from steward.domain.models import Trainer
from steward.registry.trainers import SetTrainer
from steward.wiring import registry

router = Router()


@router.put(
    "/models/<name>/trainer",
    summary="Set the model's trainer (source zip, entry point, requirements, backend); audited",
)
def set_trainer(name: str, request: SetTrainer) -> Trainer:
    return registry().set_trainer(name, request, caller(router))


@router.get("/models/<name>/trainer", summary="The model's trainer, with its source's sha256")
def get_trainer(name: str) -> Trainer:
    return registry().get_trainer(name)

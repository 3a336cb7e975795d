"""A model's own trainer: its source zip stored like an artifact (sha256, S3 version, size
limit) and its settings on the model record; every change is the audit event
``trainer.set`` with the source's sha256 before and after.

Who may set it: a data scientist (admin holds every role), as for registering a version:
the trainer's output is registered as a version and goes through the same approval, where
its registrant (the retrain service) never decides."""

from __future__ import annotations

import base64
import binascii
import io
import zipfile

from pydantic import Field

from steward.domain.errors import IntegrityError, NotFound, PayloadTooLarge, ValidationFailed
from steward.domain.identity import Identity, Role
from steward.domain.models import Trainer, TrainerSettings
from steward.registry.core import RegistryCore, sha256_hex

MAX_SOURCE_BYTES = 5 * 1024 * 1024  # a zip of code; data comes from the channels


class SetTrainer(TrainerSettings):
    """``PUT /models/{name}/trainer``: the settings and the source zip, base64."""

    source_b64: str = Field(min_length=1, max_length=MAX_SOURCE_BYTES * 4 // 3 + 4)


def _check_zip(source: bytes, entry_point: list[str]) -> None:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(source)).namelist())
    except zipfile.BadZipFile:
        raise ValidationFailed("source_b64 is not a zip file") from None
    script = entry_point[1] if entry_point[0] in ("python", "python3") else None
    if script and not script.startswith("-") and script not in names:
        raise ValidationFailed(f"the entry point's {script!r} is not in the source zip")


class TrainerCode(RegistryCore):
    def set_trainer(self, name: str, request: SetTrainer, caller: Identity) -> Trainer:
        caller.require(Role.DATA_SCIENTIST)
        model = self.store.get_model(name)
        try:
            source = base64.b64decode(request.source_b64, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed("source_b64 is not valid base64") from None
        if len(source) > MAX_SOURCE_BYTES:
            raise PayloadTooLarge(f"the trainer's source is over {MAX_SOURCE_BYTES} bytes")
        _check_zip(source, request.entry_point)
        digest = sha256_hex(source)
        uri, version_id = self.artifacts.put(f"models/{name}/trainer/{digest}.zip", source)
        settings = request.model_dump(exclude={"source_b64"})
        trainer = Trainer(
            **settings,
            sha256=digest,
            uri=uri,
            s3_version_id=version_id,
            size=len(source),
            updated_by=caller.user,
            updated_at=self.clock(),
        )
        before = {"sha256": model.trainer.sha256 if model.trainer else None}
        updated = model.model_copy(update={"trainer": trainer, "updated_at": self.clock()})
        self.store.save_model(updated, model.rev)
        # where the source is, too: an evidence pack replays the trainer as it was at `at`
        stored = {"uri": uri, "s3_version_id": version_id, "size": len(source)}
        after = {"sha256": digest, **stored, **settings}
        self._audit(name, caller.user, "trainer.set", name, before=before, after=after)
        return trainer

    def get_trainer(self, name: str) -> Trainer:
        trainer = self.store.get_model(name).trainer
        if trainer is None:
            raise NotFound(f"model {name} has no trainer: PUT /models/{name}/trainer sets one")
        return trainer

    def trainer_source(self, trainer: Trainer) -> bytes:
        """The stored zip, refused unless it still hashes to the recorded sha256."""
        data = self.artifacts.get(trainer.uri, trainer.s3_version_id)
        if sha256_hex(data) != trainer.sha256:
            raise IntegrityError("the trainer's source does not match its sha256")
        return data

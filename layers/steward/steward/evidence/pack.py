"""Build a model's evidence pack at an instant ``at``: its records as they stood then, the
audit slice that proves them, its monitoring history, a bill of materials, an index mapped
to SR 11-7 and the EU AI Act's Annex IV, and a manifest of every member's sha256.

The pack is a pure function of the stored records and ``at``: members are written in a
fixed order with fixed dates (:class:`~steward.evidence.archive.DeterministicZip`), records
as sorted JSON, and nothing says "now". Nothing dated after ``at`` is read into it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, TypeVar

from steward import __version__
from steward.auditchain import GENESIS, HASHED_AS
from steward.domain.errors import BadRequest
from steward.domain.models import PRODUCTION, Model, ModelVersion, Page
from steward.evidence import index, timeline
from steward.evidence.archive import DeterministicZip
from steward.evidence.sbom import sbom
from steward.packs import AUDIT_EVENTS, FORMAT, MANIFEST, SIGNATURE, signed_message
from steward.ports.evidence import ManifestSigner
from steward.ports.monitoring import ReportStore
from steward.registry.card import card_json, model_card
from steward.registry.core import RegistryCore, utcnow

SAFE = re.compile(r"[^A-Za-z0-9._=-]")
FETCHERS = 8  # threads reading reports (I/O bound: S3 GETs)
FETCH_CHUNK = 64
T = TypeVar("T")


@dataclass
class Pack:
    file: IO[bytes]
    size: int
    at: str
    filename: str


def instant(at: datetime | None, now: datetime) -> datetime:
    """``at`` in UTC (default: now, to the second); never in the future, where the same
    ``at`` could later give other bytes."""
    moment = (at or now.replace(microsecond=0)).astimezone(UTC)
    if moment > now:
        raise BadRequest("at is in the future: an evidence pack describes the past")
    return moment


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class EvidenceBuilder:
    def __init__(
        self,
        registry: RegistryCore,
        reports: ReportStore,
        *,
        signer: ManifestSigner | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.registry = registry
        self.reports = reports
        self.signer = signer
        self.clock = clock

    def build(self, name: str, at: datetime | None = None) -> Pack:
        model = self.registry.get_model(name)
        moment = instant(at, self.clock())
        if moment < model.created_at:
            raise BadRequest(f"{name} was created after {moment.isoformat()}")
        stamp = moment.isoformat()
        events, _ = timeline.split(self.registry.audit_log.all_events(name), moment)
        state = timeline.model_at(model, events)
        versions = [
            timeline.version_at(v, moment, events)
            for v in timeline.registered_by(self._versions(name), moment)
        ]
        zip_ = DeterministicZip()
        contents = Contents(model=state, versions=versions, at=stamp)
        zip_.add("model.json", _json(state))
        self._card(zip_, state, versions, contents)
        for record in versions:
            self._version(zip_, record, contents)
        self._audit(zip_, name, events)
        self._monitoring(zip_, name, moment, contents)
        artifacts = [
            {
                "version": v["version"],
                "sha256": v["sha256"],
                "flavor": v["flavor"],
                "uri": v["artifact"]["uri"],
            }
            for v in versions
        ]
        zip_.add("sbom.cdx.json", sbom(name, stamp, artifacts))
        zip_.add("index.html", index.render(contents, [m["path"] for m in zip_.members]))
        head = {"seq": events[-1].seq, "hash": events[-1].hash} if events else None
        manifest = {
            "format": FORMAT,
            "steward_version": __version__,
            "model": name,
            "at": stamp,
            "audit": {
                "stream": name,
                "events": len(events),
                "head": head,
                "hashed_as": HASHED_AS,
                "genesis": GENESIS,
            },
            "not_held": contents.not_held(),
            "left_out": [
                "fields that say only 'now' and that no audit event records: updated_at, "
                "rev, latest_version, latest_drift (the reports up to `at` are in monitoring/)",
                "prediction logs and training data (referenced by URI and sha256, not copied)",
            ],
            "files": zip_.members,
        }
        raw = _json(manifest)
        zip_.add(MANIFEST, raw)
        if self.signer is not None:
            signature = {
                "algorithm": self.signer.algorithm,
                "key": self.signer.key_id(),
                "signature": base64.b64encode(self.signer.sign(signed_message(raw))).decode(),
            }
            zip_.add(SIGNATURE, _json(signature))
        file = zip_.close()
        size = file.seek(0, 2)
        file.seek(0)
        compact = stamp.replace(":", "").replace("+0000", "Z")
        return Pack(file=file, size=size, at=stamp, filename=f"{name}-evidence-{compact}.zip")

    def _versions(self, name: str) -> list[ModelVersion]:
        found = every(lambda token: self.registry.list_versions(name, 200, token))
        return sorted(found, key=lambda v: v.version)

    def _card(
        self,
        zip_: DeterministicZip,
        state: dict[str, Any],
        versions: list[dict[str, Any]],
        contents: Contents,
    ) -> None:
        if not versions:
            return
        production = (state.get("aliases") or {}).get(PRODUCTION)
        chosen = next((v for v in versions if v["version"] == production), versions[-1])
        model = Model.model_validate({**state, "updated_at": state["created_at"]})
        version = ModelVersion.model_validate({**chosen, "updated_at": chosen["created_at"]})
        card = model_card(model, version)
        zip_.add("card/model-card.md", card.markdown.encode())
        zip_.add("card/model-card.html", card.html.encode())
        zip_.add("card/model-card.json", _json(card_json(model, version)))
        contents.card_version = version.version

    def _version(self, zip_: DeterministicZip, record: dict[str, Any], contents: Contents) -> None:
        folder = f"versions/{record['version']}"
        zip_.add(f"{folder}/version.json", _json(record))
        zip_.add(f"{folder}/lineage.json", _json(record.get("lineage")))
        validation = record.get("validation")
        zip_.add(f"{folder}/validation.json", _json(validation))
        zip_.add(f"{folder}/gates.json", _json((validation or {}).get("gates")))
        zip_.add(f"{folder}/approvals.json", _json(record.get("approvals", [])))
        if record.get("profile"):
            zip_.add(f"{folder}/profile.json", _json(record["profile"]))
        for path, data in explanations(record):
            zip_.add(f"{folder}/explanations/{path}", data)

    def _audit(self, zip_: DeterministicZip, name: str, events: list[Any]) -> None:
        lines = [json.dumps(e.model_dump(mode="json"), sort_keys=True) for e in events]
        zip_.add(AUDIT_EVENTS, ("\n".join(lines) + ("\n" if lines else "")).encode())

    def _monitoring(
        self, zip_: DeterministicZip, name: str, at: datetime, contents: Contents
    ) -> None:
        rows = [r for r in self._summaries(name) if _stamp(str(r["created_at"])) <= at]
        rows.sort(key=lambda r: (str(r["created_at"]), str(r["report_id"])))
        zip_.add("monitoring/history.json", _json(rows))
        fairness: dict[str, Any] = {}
        ids = [str(row["report_id"]) for row in rows]
        for report_id, text in zip(ids, self._fetched(name, ids), strict=True):
            zip_.add(f"monitoring/reports/{SAFE.sub('_', report_id)}.json", text.encode())
            section = json.loads(text).get("fairness")
            if section:
                fairness[report_id] = section
        zip_.add("monitoring/fairness.json", _json(fairness))
        if rows:
            latest = str(rows[-1]["report_id"])
            zip_.add("monitoring/latest.html", self.reports.get(name, latest, "html").encode())
        contents.reports = len(rows)
        contents.fairness = len(fairness)

    def _fetched(self, name: str, ids: list[str]) -> Iterator[str]:
        """The reports' JSON in the order of ``ids``, read a chunk at a time by a few threads:
        a thousand sequential object reads cost seconds, and only a chunk is held at once."""
        with ThreadPoolExecutor(max_workers=FETCHERS) as pool:
            for at in range(0, len(ids), FETCH_CHUNK):
                chunk = ids[at : at + FETCH_CHUNK]
                yield from pool.map(lambda report_id: self.reports.get(name, report_id), chunk)

    def _summaries(self, name: str) -> list[dict[str, Any]]:
        return every(lambda token: self.reports.summaries(name, 200, token))


def every(fetch: Callable[[str | None], Page[T]]) -> list[T]:
    """Every item of a paged listing."""
    found: list[T] = []
    token: str | None = None
    while True:
        page = fetch(token)
        found += page.items
        token = page.next_token
        if not token:
            return found


def explanations(record: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The version's explanation (attribution) profile, where the version record has one.

    A version record with an ``attribution_profile`` (issue 17: computed at registration)
    gets ``versions/<n>/explanations/attribution.json``; nothing else is invented."""
    profile = record.get("attribution_profile") or record.get("attribution")
    return [("attribution.json", _json(profile))] if profile else []


@dataclass
class Contents:
    """What the pack holds, for the index and the manifest's ``not_held``."""

    model: dict[str, Any]
    versions: list[dict[str, Any]]
    at: str
    card_version: int | None = None
    reports: int = 0
    fairness: int = 0

    def not_held(self) -> list[str]:
        missing: list[str] = []
        model = self.model
        if not str(model.get("description") or "").strip():
            missing.append("the business rationale: the model's description is empty")
        if not str(model.get("use_case") or "").strip():
            missing.append("the intended use: the model's use case is empty")
        if not self.versions:
            missing.append(f"any version: none was registered by {self.at}")
        for v in self.versions:
            lineage = v.get("lineage") or {}
            data = lineage.get("training_data") or {}
            if not data.get("uri"):
                missing.append(f"v{v['version']}: where its training data is (no URI given)")
            if not lineage.get("code_ref"):
                missing.append(f"v{v['version']}: the training code (no code reference given)")
            if not (v.get("validation") or {}).get("gates"):
                missing.append(f"v{v['version']}: gates against a champion on a holdout")
        if not self.reports:
            missing.append(f"monitoring: no drift or performance report by {self.at}")
        if not (model.get("monitoring") or {}).get("protected_attributes"):
            missing.append("fairness: no protected attributes are declared in the policy")
        missing.append(
            "the design rationale, assumptions and limitations in prose, the data "
            "governance of the training data, and the human-oversight measures: Steward "
            "holds records, not documents written about the model"
        )
        return missing

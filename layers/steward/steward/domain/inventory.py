"""Inventory filters: what a model is indexed under (its facets), which facet serves a
filter, whether a model matches, and the name-keyed continuation token.

Every store lists models in name order and resumes *after* the last name it examined, so
paging stays consistent under concurrent writes: a model that matches for the whole listing
appears exactly once; one created meanwhile appears at most once (if its name sorts after
the page being read).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from steward.domain.errors import BadRequest
from steward.domain.models import PRODUCTION, Model, RiskTier, Status, Task

NO_PRODUCTION = "none"
DriftState = Literal["detected", "clear", "none"]
MAX_TAGS = 40  # tag facets ride in the model's own write transaction (DynamoDB: 100 items)
MAX_FACET = 400  # bytes of a facet value kept readable in a key; longer ones are hashed
# A store may copy a model's search text into its index entries (a query then filters on
# it) when the text is at most this many characters; a longer one is checked on the record.
MAX_INDEXED_TEXT = 1000
TAG = re.compile(r"^([^:]{1,128}):(.{0,256})$", re.S)


class ModelFilter(BaseModel):
    """The filters of ``GET /models``; every one given must hold (AND)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: str | None = Field(default=None, min_length=1, max_length=200)
    risk_tier: RiskTier | None = None
    task: Task | None = None
    status: Status | Literal["none"] | None = Field(
        default=None, description="The production version's status; `none`: no production"
    )
    drift: DriftState | None = None
    tag: tuple[str, ...] = Field(default=(), max_length=MAX_TAGS, description="key:value")
    q: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("tag")
    @classmethod
    def _tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        for tag in tags:
            if not TAG.match(tag):
                raise ValueError(f"tag {tag[:40]!r} is not key:value")
        return tags

    def facets(self) -> list[str]:
        """The indexed filters as facets, the most selective kind first: a tag, the owner,
        the production status, the drift verdict, the risk tier, the task."""
        out = [_facet("tag", t.split(":", 1)[0] + "=" + t.split(":", 1)[1]) for t in self.tag]
        if self.owner is not None:
            out.append(_facet("owner", self.owner))
        if self.status is not None:
            out.append(_facet("status", str(self.status)))
        if self.drift is not None:
            out.append(_facet("drift", self.drift))
        if self.risk_tier is not None:
            out.append(_facet("risk", self.risk_tier.value))
        if self.task is not None:
            out.append(_facet("task", self.task.value))
        return out

    def primary(self) -> str | None:
        """The facet whose index a listing reads; the other filters are checked per model."""
        facets = self.facets()
        return facets[0] if facets else None

    def matches(self, model: Model) -> bool:
        if not set(self.facets()) <= facets_of(model):
            return False
        return self.q is None or text_matches(model, self.q)

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class IndexBackfill(BaseModel):
    """What one call of the inventory index backfill did (``POST /admin/inventory/backfill``,
    ``steward admin backfill-inventory``)."""

    examined: int = Field(default=0, description="models read, in name order")
    repaired: int = Field(default=0, description="models that lacked index entries")
    entries: int = Field(default=0, description="index entries written")
    next_token: str | None = Field(default=None, description="resume here; absent: done")


class ScheduleRefresh(BaseModel):
    """What one call of the drift-schedule refresh did (``POST /admin/schedules/refresh``,
    ``steward admin refresh-schedules``)."""

    examined: int = Field(default=0, description="models read, in name order")
    refreshed: int = Field(default=0, description="schedules put again")
    next_token: str | None = Field(default=None, description="resume here; absent: done")


def _facet(kind: str, value: str) -> str:
    if len(value.encode()) > MAX_FACET:
        value = "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return f"{kind}={value}"


def production_status(model: Model) -> str:
    """The status of the version ``production`` names: ``APPROVED`` by invariant (only an
    approved version takes the alias, and a version serving an alias cannot be archived);
    ``none`` without one."""
    return Status.APPROVED.value if PRODUCTION in model.aliases else NO_PRODUCTION


def drift_state(model: Model) -> DriftState:
    if not model.latest_drift:
        return "none"
    return "detected" if model.latest_drift.get("drift_detected") else "clear"


def facets_of(model: Model) -> set[str]:
    """Every index entry a model has; a store rewrites them in the same write as the model."""
    facets = {
        _facet("owner", model.owner),
        _facet("risk", model.risk_tier.value),
        _facet("task", model.task.value),
        _facet("status", production_status(model)),
        _facet("drift", drift_state(model)),
    }
    facets |= {_facet("tag", f"{k}={v}") for k, v in model.tags.items()}
    return facets


def search_text(model: Model) -> str:
    """What ``q`` searches: the name and the description, case-folded."""
    return f"{model.name}\n{model.description}".casefold()


def query_words(q: str) -> list[str]:
    """The words of ``q`` that must all occur in :func:`search_text` (case-folded)."""
    return q.casefold().split()


def indexed_text(model: Model) -> str | None:
    """The search text a store copies into the model's index entries, or ``None`` when it
    is longer than :data:`MAX_INDEXED_TEXT` (entries without it are checked on the record)."""
    text = search_text(model)
    return text if len(text) <= MAX_INDEXED_TEXT else None


def text_matches(model: Model, q: str) -> bool:
    """Case-insensitive: every word of ``q`` occurs in the name or the description."""
    text = search_text(model)
    return all(word in text for word in query_words(q))


def encode_after(name: str, where: ModelFilter) -> str:
    body = json.dumps({"after": name, "f": where.digest()}).encode()
    return base64.urlsafe_b64encode(body).decode()


def decode_after(token: str | None, where: ModelFilter) -> str | None:
    """The name a listing resumes after; a token from another filter (or made up) is a 400."""
    if not token:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode()))
        after, digest = body["after"], body["f"]
    except (ValueError, TypeError, KeyError):
        raise BadRequest("next_token is not valid") from None
    if not isinstance(after, str) or digest != where.digest():
        raise BadRequest("next_token belongs to another listing (other filters)")
    return after

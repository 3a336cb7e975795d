"""The deployment's skops allowlist on the audit trail: before a scikit-learn version is
admitted, the list it is judged by is recorded, once per change (stream ``deployment``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from steward.domain.audit import AuditEvent
from steward.domain.models import Flavor
from steward.ports import AuditLog
from steward.runtimes.skops_allowlist import SKLEARN, TRUSTED
from steward.runtimes.skops_trust import CONTEXT, ENV, effective
from steward.runtimes.skops_trust import added as deployment_added

STREAM = "deployment"
ACTION = "deployment.skops_trusted"


def record_skops_trusted(
    audit: AuditLog,
    clock: Callable[[], datetime],
    flavor: Flavor,
    added: list[str] | None = None,
) -> AuditEvent | None:
    """For a scikit-learn registration, append an event when the effective allowlist (the
    shipped one and ``added``, the deployment's by default) differs from the last one
    recorded; ``None`` when it does not."""
    if flavor is not Flavor.SKLEARN:
        return None
    if added is None:
        added = deployment_added()
    now = {
        "shipped": f"{len(TRUSTED)} scikit-learn {SKLEARN} types",
        "added": sorted(added),
        "effective": effective(added),
    }
    head = audit.head(STREAM)
    before = head.after if head is not None else None
    if before == now:
        return None
    return audit.append(
        stream=STREAM,
        actor="deployment",
        action=ACTION,
        target="skops-allowlist",
        clock=clock,
        before=before,
        after=now,
        reason=f"the skops allowlist changed ({CONTEXT} / {ENV})",
    )

"""Ports: the small interfaces the domain needs from the outside world.

Each has a boto3 adapter (``steward.adapters.aws``, a module per AWS service) and an
in-memory fake (``steward.adapters.memory``) that subclasses it; one contract suite runs on
both.
"""

from steward.ports.artifacts import ArtifactStore
from steward.ports.audit import AuditLog
from steward.ports.logs import LogSink
from steward.ports.notify import Notifier
from steward.ports.store import ModelStore
from steward.ports.workflows import WorkflowEngine

__all__ = ["ArtifactStore", "AuditLog", "LogSink", "ModelStore", "Notifier", "WorkflowEngine"]

"""Registry and governance: every rule about models, versions, approvals and aliases, in
rooms of one purpose that share :class:`~steward.registry.core.RegistryCore` (the ports, the
clock, the audited writes):

- :mod:`~steward.registry.registration`: models and registering versions;
- :mod:`~steward.registry.approvals`: validation, gates' verdicts, decisions;
- :mod:`~steward.registry.release`: aliases, traffic, rollback, archive;
- :mod:`~steward.registry.trainers`: the model's own training code.

Callers use :class:`Registry`, which is all of them.
"""

from __future__ import annotations

from steward.registry.approvals import Approvals
from steward.registry.core import Clock, RegistryCore, utcnow
from steward.registry.registration import REFERENCE_SAMPLE, Registration
from steward.registry.release import Release
from steward.registry.trainers import TrainerCode

__all__ = ["REFERENCE_SAMPLE", "Clock", "Registry", "RegistryCore", "utcnow"]


class Registry(Registration, Approvals, Release, TrainerCode):
    """The registry service: one object over the ports with every room's operations."""

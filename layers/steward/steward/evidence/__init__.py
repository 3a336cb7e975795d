"""Evidence packs: a model's documentation at a point in time, as one verifiable zip.

:mod:`~steward.evidence.pack` builds it through the registry's and the reports' ports;
:mod:`steward.packs` (standard library only) verifies it offline.
"""

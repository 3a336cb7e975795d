"""ManifestSigner: signs an evidence pack's manifest (a local key file, or KMS in AWS)."""

from __future__ import annotations

from abc import ABC, abstractmethod


class ManifestSigner(ABC):
    algorithm = "Ed25519"  # the only one ``steward.packs.verify`` checks

    @abstractmethod
    def key_id(self) -> str:
        """``sha256:`` and the hex digest of the public key's DER (SubjectPublicKeyInfo)."""

    @abstractmethod
    def sign(self, data: bytes) -> bytes:
        """The signature over ``data`` (Ed25519 is deterministic: same bytes, same signature)."""

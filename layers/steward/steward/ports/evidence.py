"""Ports of evidence packs: signing a pack's manifest (a local key file, or KMS in AWS), and
keeping a pack too large to answer inline where the caller can fetch it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import IO


class ManifestSigner(ABC):
    algorithm = "Ed25519"  # the only one ``steward.packs.verify`` checks

    @abstractmethod
    def key_id(self) -> str:
        """``sha256:`` and the hex digest of the public key's DER (SubjectPublicKeyInfo)."""

    @abstractmethod
    def sign(self, data: bytes) -> bytes:
        """The signature over ``data`` (Ed25519 is deterministic: same bytes, same signature)."""


class PackStore(ABC):
    @abstractmethod
    def keep(self, key: str, file: IO[bytes]) -> str:
        """Store the pack (streamed from ``file``); a URL that fetches it for a while, with
        no other credential."""

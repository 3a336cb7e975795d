"""A manifest signer over an asymmetric KMS key (key spec ``ECC_NIST_EDWARDS25519``, usage
``SIGN_VERIFY``): the private key never leaves KMS; the function may ``kms:Sign`` and
``kms:GetPublicKey`` (for the key's fingerprint) with that key only."""

from __future__ import annotations

from typing import Any

from steward.packs import key_id
from steward.ports.evidence import ManifestSigner

ALGORITHM = "ED25519_SHA_512"  # pure Ed25519 (RFC 8032), as cryptography verifies it


class KmsSigner(ManifestSigner):
    def __init__(self, client: Any, key_arn: str) -> None:
        self._kms = client
        self._key = key_arn
        self._id: str | None = None

    def key_id(self) -> str:
        if self._id is None:
            answer = self._kms.get_public_key(KeyId=self._key)
            self._id = key_id(answer["PublicKey"])
        return self._id

    def sign(self, data: bytes) -> bytes:
        answer = self._kms.sign(
            KeyId=self._key, Message=data, MessageType="RAW", SigningAlgorithm=ALGORITHM
        )
        signature: bytes = answer["Signature"]
        return signature

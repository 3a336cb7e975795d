"""A manifest signer over a local Ed25519 private key (PEM, PKCS#8), for the local platform:
``openssl genpkey -algorithm ed25519 -out evidence.pem`` and
``openssl pkey -in evidence.pem -pubout -out evidence.pub`` for the verifiers."""

from __future__ import annotations

from pathlib import Path

from steward.packs import key_id
from steward.ports.evidence import ManifestSigner


class Ed25519KeyFile(ManifestSigner):
    def __init__(self, path: str | Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        self._key = key
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._id = key_id(der)

    def key_id(self) -> str:
        return self._id

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

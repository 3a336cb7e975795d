"""Evidence signing: the KMS key that signs evidence packs' manifests (Ed25519, usage
SIGN_VERIFY), created by the stack or an existing one, and the API function's permission to
sign with that key only. Enabled by the context ``steward:evidenceSigningKey``: ``create``,
or the ARN of an existing ``ECC_NIST_EDWARDS25519`` key."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.constructs.function import StewardFunction

CONTEXT = "steward:evidenceSigningKey"


def signing_key(value: object) -> str | None:
    """The context's value checked: ``None`` (no signing), ``create`` or a key ARN."""
    if value in (None, ""):
        return None
    if value == "create" or (isinstance(value, str) and value.startswith("arn:")):
        return str(value)
    raise ValueError(f"{CONTEXT} is 'create' or a KMS key ARN, not {value!r}")


class EvidenceSigning(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: str) -> None:
        super().__init__(scope, construct_id)
        if key == "create":
            self.key: kms.IKey = kms.Key(
                self,
                "Key",
                description="Steward: signs evidence packs' manifests (Ed25519)",
                key_spec=kms.KeySpec.ECC_NIST_EDWARDS25519,
                key_usage=kms.KeyUsage.SIGN_VERIFY,
                # a retired key still verifies old packs (its public half): keep it
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
        else:
            self.key = kms.Key.from_key_arn(self, "Key", key)

    def grant_sign(self, fn: StewardFunction) -> None:
        """Sign with this key, and read its public key (the signature names its fingerprint)."""
        fn.add_environment("STEWARD_EVIDENCE_KMS_KEY_ARN", self.key.key_arn)
        fn.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Sign", "kms:GetPublicKey"], resources=[self.key.key_arn]
            )
        )


def sign_evidence(scope: Construct, key: str | None, api: StewardFunction) -> None:
    """The API function signs evidence packs with ``key`` (``None``: packs are unsigned)."""
    if key:
        EvidenceSigning(scope, "EvidenceSigning", key=key).grant_sign(api)

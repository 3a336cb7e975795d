"""What evidence packs need from the stack: API Gateway passing zips as bytes, the API
function keeping large packs under evidence/ of the reports bucket (and nothing wider),
and those kept packs expiring."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Synth
from tests.infra.test_monitoring import _actions, _resources, _statements


def test_the_api_answers_zips_as_bytes(synth: Synth) -> None:
    (api,) = synth.resources("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["BinaryMediaTypes"] == ["application/zip"]


def test_large_packs_are_kept_under_evidence_only_and_expire(synth: Synth) -> None:
    kept = [
        s for s in _statements(synth, "ApiFunction") if "evidence/" in json.dumps(_resources(s))
    ]
    assert len(kept) == 1
    assert sorted(_actions(kept[0])) == ["s3:GetObject", "s3:PutObject"]
    # (CDK merges it with the drift reports' statement: same actions, other prefix)
    assert any(json.dumps(r).endswith('/evidence/*"]]}') for r in _resources(kept[0]))
    assert not any(json.dumps(r).endswith('Arn"]}, "/*"]]}') for r in _resources(kept[0]))
    rules = [
        rule
        for bucket in synth.resources("AWS::S3::Bucket").values()
        for rule in bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
    ]
    assert any(r.get("Prefix") == "evidence/" and r.get("ExpirationInDays") == 1 for r in rules)


def _signing_keys(synth: Synth) -> dict[str, dict[str, Any]]:
    keys = synth.resources("AWS::KMS::Key").items()
    return {k: v for k, v in keys if k.startswith("EvidenceSigning")}


def test_a_kms_key_signs_manifests_where_the_context_asks() -> None:
    import pytest

    from infra.app import build_app
    from infra.auth import DeploymentError
    from tests.infra.conftest import synthesize

    synth = synthesize(context={"steward:evidenceSigningKey": "create"})
    assert synth.violations() == []
    ((key_id, key),) = _signing_keys(synth).items()
    assert key["Properties"]["KeySpec"] == "ECC_NIST_EDWARDS25519"
    assert key["Properties"]["KeyUsage"] == "SIGN_VERIFY"
    signing = [s for s in _statements(synth, "ApiFunction") if "kms:Sign" in _actions(s)]
    assert len(signing) == 1
    assert sorted(_actions(signing[0])) == ["kms:GetPublicKey", "kms:Sign"]
    assert _resources(signing[0]) == [{"Fn::GetAtt": [key_id, "Arn"]}]
    (api,) = [
        f
        for k, f in synth.resources("AWS::Lambda::Function").items()
        if k.startswith("ApiFunction")
    ]
    env = api["Properties"]["Environment"]["Variables"]
    assert env["STEWARD_EVIDENCE_KMS_KEY_ARN"] == {"Fn::GetAtt": [key_id, "Arn"]}
    with pytest.raises(DeploymentError):
        build_app(context={"steward:evidenceSigningKey": "yes please"}, nag=False)


def test_no_signing_key_by_default(synth: Synth) -> None:
    assert _signing_keys(synth) == {}
    assert not [s for s in _statements(synth, "ApiFunction") if "kms:Sign" in _actions(s)]

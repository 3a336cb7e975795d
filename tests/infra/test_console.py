"""The console in AWS: a private bucket read only by CloudFront (Origin Access Control),
HTTPS only, a strict content security policy, and an /api/* behaviour that forwards the
SigV4 headers to the API stage without caching anything."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Synth

ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def _distribution(synth: Synth) -> dict[str, Any]:
    (distribution,) = synth.resources("AWS::CloudFront::Distribution").values()
    config: dict[str, Any] = distribution["Properties"]["DistributionConfig"]
    return config


def _console_bucket(synth: Synth) -> str:
    (logical,) = [k for k in synth.resources("AWS::S3::Bucket") if k.startswith("ConsoleFiles")]
    return logical


def test_bucket_is_private_and_read_only_by_this_distribution(synth: Synth) -> None:
    bucket = _console_bucket(synth)
    props = synth.template["Resources"][bucket]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    (policy,) = [
        p
        for p in synth.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    allows = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    assert allows, "CloudFront must be allowed to read"
    for statement in allows:
        assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert statement["Action"] == "s3:GetObject"
        source = statement["Condition"]["StringEquals"]["AWS:SourceArn"]
        assert "CloudFrontDistribution" in json.dumps(source) or "Distribution" in json.dumps(
            source
        )
    (oac,) = synth.resources("AWS::CloudFront::OriginAccessControl").values()
    settings = oac["Properties"]["OriginAccessControlConfig"]
    assert (settings["SigningBehavior"], settings["SigningProtocol"]) == ("always", "sigv4")
    origins = _distribution(synth)["Origins"]
    s3_origins = [o for o in origins if "S3OriginConfig" in o]
    assert len(s3_origins) == 1 and "OriginAccessControlId" in s3_origins[0]
    assert s3_origins[0]["S3OriginConfig"].get("OriginAccessIdentity", "") == ""


def test_https_only_with_security_headers(synth: Synth) -> None:
    config = _distribution(synth)
    behaviors = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    assert {b["ViewerProtocolPolicy"] for b in behaviors} <= {"redirect-to-https", "https-only"}
    (policy,) = synth.resources("AWS::CloudFront::ResponseHeadersPolicy").values()
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    for behavior in behaviors:
        assert "ResponseHeadersPolicyId" in behavior
    assert config["DefaultRootObject"] == "console/index.html"


def test_api_behaviour_forwards_signatures_and_caches_nothing(synth: Synth) -> None:
    (api,) = [b for b in _distribution(synth)["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
    assert set(api["AllowedMethods"]) >= {"GET", "POST", "PUT"}
    (cache,) = [
        p
        for p in synth.resources("AWS::CloudFront::CachePolicy").values()
        if "Authorization"
        in p["Properties"]["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"][
            "HeadersConfig"
        ].get("Headers", [])
    ]
    config = cache["Properties"]["CachePolicyConfig"]
    assert config["DefaultTTL"] == 0 and config["MinTTL"] == 0 and config["MaxTTL"] <= 1
    forwarded = config["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"]
    assert {"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} <= set(forwarded)
    (association,) = api["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    (function,) = synth.resources("AWS::CloudFront::Function").values()
    assert "/api" in function["Properties"]["FunctionCode"]
    origin_id = api["TargetOriginId"]
    (origin,) = [o for o in _distribution(synth)["Origins"] if o["Id"] == origin_id]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    # The stage path and the domain both come from the REST API's own URL.
    assert "ApiRest" in json.dumps(origin["DomainName"])
    assert "ApiRest" in json.dumps(origin["OriginPath"])


def test_files_are_deployed_into_the_console_bucket_only(synth: Synth) -> None:
    bucket = _console_bucket(synth)
    (deployment,) = synth.resources("Custom::CDKBucketDeployment").values()
    props = deployment["Properties"]
    assert props["DestinationBucketName"] == {"Ref": bucket}
    assert props["DestinationBucketKeyPrefix"] == "console/"
    writes = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            if any(a.startswith(("s3:PutObject", "s3:DeleteObject")) for a in actions):
                writes.append((policy, statement))
    console_writes = [s for _, s in writes if bucket in json.dumps(s["Resource"])]
    assert console_writes, "the deployment must write the console bucket"
    for statement in console_writes:
        assert "*" not in [r for r in statement["Resource"] if isinstance(r, str)]


def test_console_url_is_an_output(synth: Synth) -> None:
    assert "ConsoleUrl" in synth.template["Outputs"]

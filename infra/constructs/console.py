"""Console: the web console's static files on a private bucket, served by CloudFront.

One distribution, two origins, so the browser only ever talks to one origin (no CORS):

* ``/console/*`` (and ``/``) from the bucket, read by CloudFront through Origin Access
  Control; the bucket stays private and blocks public access;
* ``/api/*`` to the REST API's stage (a CloudFront Function strips ``/api``), never cached.

Auth is the API's own: IAM. The console holds no secret and reads no data by itself; it signs
every API request with SigV4 (WebCrypto) using the person's own temporary AWS credentials
(IAM Identity Center or ``aws configure export-credentials``), kept in the tab's
sessionStorage. It signs for the API Gateway host and stage path; the ``/api/*`` behaviour
forwards ``Authorization``, ``X-Amz-Date`` and ``X-Amz-Security-Token`` (in the cache key, as
CloudFront requires to forward ``Authorization``; TTL 0, so nothing is cached) and sends the
origin's Host, so API Gateway verifies the same signature it would verify from the CLI, and
the approver's IAM principal is the identity the API records in the audit trail.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IConstruct

from infra.constructs.function import owned_log_group, service_role
from infra.constructs.nag import acknowledge, arn_token
from infra.constructs.storage import secure_bucket

CONSOLE_DIR = Path(__file__).resolve().parents[2] / "console"
PREFIX = "console"
STRIP_API_PREFIX = """function handler(event) {
  var request = event.request;
  request.uri = request.uri.replace(/^\\/api(?=\\/|$)/, '') || '/';
  return request;
}"""
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


class Console(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: apigw.RestApi,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.bucket = secure_bucket(self, "Files", access_logs=access_logs)
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=CSP, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=cdk.Duration.days(365),
                    include_subdomains=True,
                    override=True,
                ),
            ),
        )
        api_cache = cloudfront.CachePolicy(
            self,
            "ApiNoCache",
            comment="Steward API: signature headers reach the origin, nothing is cached",
            default_ttl=cdk.Duration.seconds(0),
            min_ttl=cdk.Duration.seconds(0),
            max_ttl=cdk.Duration.seconds(1),
            header_behavior=cloudfront.CacheHeaderBehavior.allow_list(*SIGNATURE_HEADERS),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.all(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
        )
        strip = cloudfront.Function(
            self,
            "StripApiPrefix",
            code=cloudfront.FunctionCode.from_inline(STRIP_API_PREFIX),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="/api/models -> /models on the API stage",
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Steward console",
            default_root_object=f"{PREFIX}/index.html",
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
            ),
            additional_behaviors={
                "/api/*": cloudfront.BehaviorOptions(
                    origin=origins.RestApiOrigin(rest_api),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=api_cache,
                    origin_request_policy=(
                        cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER
                    ),
                    response_headers_policy=headers,
                    function_associations=[
                        cloudfront.FunctionAssociation(
                            function=strip, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                        )
                    ],
                )
            },
        )
        self._deploy_files(stack, rest_api)
        self._acknowledge()

    def _deploy_files(self, stack: cdk.Stack, rest_api: apigw.RestApi) -> None:
        log_group = owned_log_group(self, "DeployLogs")
        role = service_role(
            self,
            "DeployRole",
            "lambda",
            "Steward console: copies the console's files into its bucket",
        )
        log_group.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
            )
        )
        config = {
            "auth": "iam",
            "api": "/api",
            "apiHost": f"{rest_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}",
            "stage": rest_api.deployment_stage.stage_name,
            "region": stack.region,
        }
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deploy",
            sources=[
                s3deploy.Source.asset(str(CONSOLE_DIR)),
                s3deploy.Source.json_data("config.json", config),
            ],
            destination_bucket=self.bucket,
            destination_key_prefix=f"{PREFIX}/",
            cache_control=[s3deploy.CacheControl.from_string("no-cache")],
            memory_limit=256,
            role=role,
            log_group=log_group,
        )
        self.handler = self._deployment_handler(stack)
        # BucketDeployment's handler has no tracing option: the gates want every function
        # traced (the role above may write traces).
        cfn = self.handler.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        cfn.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        self.role = role

    @staticmethod
    def _deployment_handler(stack: cdk.Stack) -> IConstruct:
        """The stack-level singleton function BucketDeployment creates (one per stack)."""
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                return child
        raise RuntimeError("BucketDeployment created no handler function")

    def _acknowledge(self) -> None:
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; "
            "the S3 statements are scoped to the asset object and the console bucket.",
        )
        for finding in (
            f"AwsSolutions-IAM5[Resource::{arn_token(self.bucket)}/*]",
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-"
            "<AWS::AccountId>-<AWS::Region>/*]",
            "AwsSolutions-IAM5[Action::s3:GetObject*]",
            "AwsSolutions-IAM5[Action::s3:GetBucket*]",
            "AwsSolutions-IAM5[Action::s3:List*]",
            "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
            "AwsSolutions-IAM5[Action::s3:Abort*]",
        ):
            acknowledge(
                self.role,
                finding,
                "BucketDeployment's own grants: read of the CDK asset bucket and sync "
                "(list, put, delete) into the console bucket only.",
            )
        for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
            acknowledge(
                self.handler,
                rule,
                "The CDK's own BucketDeployment handler: aws-cdk-lib picks and upgrades its "
                "runtime with each release.",
            )
        acknowledge(
            self.handler,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by CloudFormation as a custom resource; a failure fails "
            "(and rolls back) the deployment, there is no event to dead-letter.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "No geo restriction: approvers may work anywhere; every API call is IAM-signed.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "WAF is an account-level choice (as for the API stage); attach a WebACL where "
            "needed. The static files hold no data and /api/* still needs IAM signatures.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR3",
            "CloudFront standard logs need an ACL-enabled bucket, which this stack's buckets "
            "refuse (owner enforced); API calls are logged by the API stage's access logs.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "The default *.cloudfront.net certificate cannot pin a minimum TLS version; "
            "put a custom domain and certificate (TLSv1.2_2021) in front to raise it.",
        )

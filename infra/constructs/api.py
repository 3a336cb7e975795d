"""Api: the REST API in front of the API function, logged and traced; every method
IAM-authorized (SigV4), or with a user pool, by a Cognito authorizer."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.function import owned_log_group
from infra.constructs.nag import acknowledge


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        user_pool_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if user_pool_arn is None:
            auth = apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM)
        else:
            pool = cognito.UserPool.from_user_pool_arn(self, "UserPool", user_pool_arn)
            authorizer = apigw.CognitoUserPoolsAuthorizer(
                self, "Authorizer", cognito_user_pools=[pool]
            )
            auth = apigw.MethodOptions(
                authorization_type=apigw.AuthorizationType.COGNITO, authorizer=authorizer
            )
        access_logs = owned_log_group(self, "AccessLogs", logs.RetentionDays.THREE_MONTHS)
        self.rest_api = apigw.RestApi(
            self,
            "Rest",
            description="Steward REST API",
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.DESTROY,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            deploy_options=apigw.StageOptions(
                stage_name="v1",
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                throttling_rate_limit=200,
                throttling_burst_limit=400,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
            default_method_options=auth,
            # Evidence packs (GET /models/{name}/evidence): the function answers base64,
            # API Gateway sends bytes to a caller whose Accept is application/zip.
            binary_media_types=["application/zip"],
        )
        self.validator = self.rest_api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        integration = apigw.LambdaIntegration(handler, proxy=True)
        self.rest_api.root.add_method("ANY", integration, request_validator=self.validator)
        self.rest_api.root.add_proxy(
            default_integration=integration,
            any_method=True,
            default_method_options=apigw.MethodOptions(request_validator=self.validator),
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "WAF is an account-level choice; attach a WebACL to the v1 stage where needed.",
        )
        if user_pool_arn is None:
            acknowledge(
                self.rest_api,
                "AwsSolutions-COG4",
                "Methods use IAM authorization (SigV4); Cognito is the other mode.",
            )
        acknowledge(
            self.rest_api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level API Gateway logging role uses the AWS-managed policy "
            "made for exactly that purpose.",
        )

    def route(self, path: str, method: str, handler: lambda_.IFunction) -> None:
        """An explicit resource (it wins over ``{proxy+}``) integrated with ``handler``."""
        resource = self.rest_api.root.resource_for_path(path)
        resource.add_method(
            method, apigw.LambdaIntegration(handler, proxy=True), request_validator=self.validator
        )

    @property
    def url(self) -> str:
        return self.rest_api.url

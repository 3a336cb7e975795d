"""Provision the synthesized stack into the emulator through CloudFormation, as `cdk deploy` would.

Three gaps of the emulator are bridged here, and only here:

* asset zips: the bootstrap bucket gets a placeholder object per asset key (moto never runs
  Lambda code; the handlers run in-process from ``functions/``); container images are never
  built (moto does not check image URIs): an image function runs the handler of the folder
  its ``steward:source`` tag names, in-process like the others;
* state machines: those created by CloudFormation are not seen by moto's executing Step
  Functions backend, so each is created again through the API with its resolved definition;
* API Gateway stages are skipped by moto's CloudFormation; the local gateway reads the
  resources and integrations of the deployed REST API instead;
* bucket settings (versioning, Object Lock, encryption, public access block) are not applied
  by moto's CloudFormation: they are applied here from the template's own properties;
* EventBridge Scheduler schedule groups are not created by moto's CloudFormation: they are
  created here through the Scheduler API (moto's backend then stores the schedules);
* KMS key tags are read by moto's CloudFormation in the KMS API's spelling (``TagKey``,
  ``TagValue``): the template's are respelled before the deployment;
* event sources (SQS queues, DynamoDB streams) are taken over from moto, which would invoke
  the function inside the writer's own request: local pollers read them as Lambda does.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3

from steward.local.emulator import ACCOUNT, REGION
from steward.local.runtime import FunctionSpec
from steward.polling import until

BOOTSTRAP_QUALIFIER = "hnb659fds"
SOURCE_TAG = "steward:source"


@dataclass
class Route:
    path: str  # API Gateway resource path, e.g. /models/{name}/predict or /{proxy+}
    methods: frozenset[str]
    function: str
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.escape(self.path)
        regex = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", regex)
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        self.pattern = re.compile(f"^{regex}$")

    @property
    def specificity(self) -> tuple[int, int]:
        greedy = "+}" in self.path
        return (0 if greedy else 1, self.path.count("/") - self.path.count("{"))


@dataclass(frozen=True)
class QueueSource:
    """An SQS event source mapping: the queue, the function, and how Lambda batches."""

    queue_url: str
    queue_arn: str
    function: str
    batch_size: int
    window_s: int
    partial_failures: bool


@dataclass(frozen=True)
class StreamSource:
    """A DynamoDB stream event source mapping: the stream, the function, the batch size."""

    table: str
    stream_arn: str
    function: str
    batch_size: int


@dataclass
class Deployment:
    stack_name: str
    outputs: dict[str, str]
    functions: list[FunctionSpec]
    state_machines: dict[str, str]  # logical id -> ARN
    routes: list[Route]
    physical: dict[str, str]  # logical id -> physical id
    queue_sources: list[QueueSource] = field(default_factory=list)
    stream_sources: list[StreamSource] = field(default_factory=list)


def _placeholder_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("README.txt", "Steward local: handlers run in-process from functions/\n")
    return buf.getvalue()


def _bootstrap(template: dict[str, Any]) -> None:
    s3 = boto3.client("s3")
    bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{ACCOUNT}-{REGION}"
    s3.create_bucket(Bucket=bucket)
    boto3.client("ssm").put_parameter(
        Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version", Value="30", Type="String"
    )
    body = _placeholder_zip()
    for key in sorted(set(re.findall(r'"([0-9a-f]{64}\.zip)"', json.dumps(template)))):
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def _wait(cfn: Any, stack_name: str, timeout_s: float = 120) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        return stack if stack["StackStatus"].endswith(("_COMPLETE", "_FAILED")) else None

    stack = until(settled, timeout_s, what=f"the local stack {stack_name}")
    if stack["StackStatus"] != "CREATE_COMPLETE":
        reason = stack.get("StackStatusReason", "")
        raise RuntimeError(f"local stack {stack['StackStatus']}: {reason}")
    return stack


def _functions(template: dict[str, Any], physical: dict[str, str]) -> list[FunctionSpec]:
    lam = boto3.client("lambda")
    specs = []
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        tags = {t["Key"]: t["Value"] for t in props.get("Tags", [])}
        if SOURCE_TAG not in tags:
            continue
        config = lam.get_function_configuration(FunctionName=physical[logical])
        image = props.get("PackageType") == "Image"
        specs.append(
            FunctionSpec(
                name=config["FunctionName"],
                arn=config["FunctionArn"],
                source=tags[SOURCE_TAG],
                # An image function names its handler in the image's command; its image is
                # never built locally: it runs the same folder's handler in-process.
                handler=props["ImageConfig"]["Command"][0] if image else config["Handler"],
                image=image,
                memory_mb=int(config.get("MemorySize", 128)),
                timeout_s=int(config.get("Timeout", 3)),
                environment=dict(config.get("Environment", {}).get("Variables", {})),
                reserved=props.get("ReservedConcurrentExecutions"),
            )
        )
    return specs


def _recreate_state_machines(template: dict[str, Any], physical: dict[str, str]) -> dict[str, str]:
    from moto.stepfunctions.models import stepfunctions_backends

    deployed = stepfunctions_backends[ACCOUNT][REGION]
    sfn = boto3.client("stepfunctions")
    arns = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        machine = deployed.describe_state_machine(physical[logical])
        created = sfn.create_state_machine(
            name=machine.name,
            definition=machine.definition,
            roleArn=machine.roleArn,
            type="STANDARD",
        )
        arns[logical] = created["stateMachineArn"]
    return arns


def _routes() -> list[Route]:
    apigw = boto3.client("apigateway")
    routes = []
    for api in apigw.get_rest_apis()["items"]:
        for resource in apigw.get_resources(restApiId=api["id"], limit=500)["items"]:
            by_function: dict[str, set[str]] = {}
            for method in resource.get("resourceMethods", {}):
                detail = apigw.get_method(
                    restApiId=api["id"], resourceId=resource["id"], httpMethod=method
                )
                uri = detail.get("methodIntegration", {}).get("uri", "")
                match = re.search(r"functions/(arn:[^/]+)/invocations", uri)
                if match:
                    by_function.setdefault(match.group(1), set()).add(method)
            for function, methods in by_function.items():
                routes.append(Route(resource["path"], frozenset(methods), function))
    return sorted(routes, key=lambda r: r.specificity, reverse=True)


def _apply_bucket_settings(template: dict[str, Any], physical: dict[str, str]) -> None:
    s3 = boto3.client("s3")
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::S3::Bucket" or logical not in physical:
            continue
        props, bucket = resource.get("Properties", {}), physical[logical]
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        if "BucketEncryption" in props:
            rules = [  # CloudFormation and the S3 API spell this rule differently
                {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            encryption: Any = {"Rules": rules}
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=encryption)
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"],
            )
        lock = props.get("ObjectLockConfiguration")
        if props.get("ObjectLockEnabled") and lock:
            s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=lock)


def _schedule_groups(template: dict[str, Any]) -> None:
    scheduler = boto3.client("scheduler")
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Scheduler::ScheduleGroup":
            scheduler.create_schedule_group(Name=resource["Properties"]["Name"])


def _mappings(template: dict[str, Any], attribute: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(source logical id, properties)`` of each event source mapping whose source is
    ``Fn::GetAtt [<id>, attribute]`` (``Arn`` for queues, ``StreamArn`` for tables)."""
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = resource["Properties"]
        source = props.get("EventSourceArn", {})
        if isinstance(source, dict) and source.get("Fn::GetAtt", [None, None])[1] == attribute:
            yield source["Fn::GetAtt"][0], props


def _queue_sources(template: dict[str, Any], physical: dict[str, str]) -> list[QueueSource]:
    """The SQS event sources, taken over from moto: moto would invoke the function inside
    each SendMessage, one message at a time; Lambda polls and batches, as the local poller
    does (steward.local.pollers)."""
    from moto.sqs.models import sqs_backends

    sqs = boto3.client("sqs")
    sources = []
    for logical_id, props in _mappings(template, "Arn"):
        queue_url = physical[logical_id]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        queue_name = queue_url.rsplit("/", 1)[-1]
        queue = sqs_backends[ACCOUNT][REGION].queues.get(queue_name)
        if queue is not None:
            queue.lambda_event_source_mappings.clear()
        sources.append(
            QueueSource(
                queue_url=queue_url,
                queue_arn=attributes["Attributes"]["QueueArn"],
                function=physical[props["FunctionName"]["Ref"]],
                batch_size=int(props.get("BatchSize", 10)),
                window_s=int(props.get("MaximumBatchingWindowInSeconds", 0)),
                partial_failures="ReportBatchItemFailures"
                in props.get("FunctionResponseTypes", []),
            )
        )
    return sources


def _stream_sources(template: dict[str, Any], physical: dict[str, str]) -> list[StreamSource]:
    """The DynamoDB stream event sources, taken over from moto (which would invoke the
    function synchronously inside each write)."""
    from moto.dynamodb.models import dynamodb_backends

    tables = dynamodb_backends[ACCOUNT][REGION].tables
    dynamodb = boto3.client("dynamodb")
    sources = []
    for logical_id, props in _mappings(template, "StreamArn"):
        name = physical[logical_id]
        tables[name].lambda_event_source_mappings.clear()
        sources.append(
            StreamSource(
                table=name,
                stream_arn=dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"],
                function=physical[props["FunctionName"]["Ref"]],
                batch_size=int(props.get("BatchSize", 100)),
            )
        )
    return sources


def _kms_tags_for_moto(template: dict[str, Any]) -> dict[str, Any]:
    respelled: dict[str, Any] = json.loads(json.dumps(template))
    for resource in respelled["Resources"].values():
        if resource["Type"] == "AWS::KMS::Key" and "Tags" in resource.get("Properties", {}):
            resource["Properties"]["Tags"] = [
                {"TagKey": t["Key"], "TagValue": t["Value"]} for t in resource["Properties"]["Tags"]
            ]
    return respelled


def deploy(template: dict[str, Any], stack_name: str = "Steward") -> Deployment:
    _bootstrap(template)
    cfn = boto3.client("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(_kms_tags_for_moto(template)),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    stack = _wait(cfn, stack_name)
    summaries = cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    physical = {
        s["LogicalResourceId"]: s["PhysicalResourceId"]
        for s in summaries
        if s.get("LogicalResourceId") and s.get("PhysicalResourceId")
    }
    _apply_bucket_settings(template, physical)
    _schedule_groups(template)
    return Deployment(
        stack_name=stack_name,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        functions=_functions(template, physical),
        state_machines=_recreate_state_machines(template, physical),
        routes=_routes(),
        physical=physical,
        queue_sources=_queue_sources(template, physical),
        stream_sources=_stream_sources(template, physical),
    )

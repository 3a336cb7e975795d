"""Security properties of a synthesized template, as plain functions so that tests can show
each one failing on a template that breaks it."""

from __future__ import annotations

from typing import Any


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def bucket_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    policies = _resources(template, "AWS::S3::BucketPolicy")
    for name, bucket in _resources(template, "AWS::S3::Bucket").items():
        props = bucket.get("Properties", {})
        if not props.get("BucketEncryption"):
            problems.append(f"{name}: not encrypted")
        if props.get("VersioningConfiguration", {}).get("Status") != "Enabled":
            problems.append(f"{name}: not versioned")
        block = props.get("PublicAccessBlockConfiguration", {})
        if not all(
            block.get(k)
            for k in (
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            )
        ):
            problems.append(f"{name}: public access not blocked")
        ssl_only = any(
            policy["Properties"]["Bucket"] == {"Ref": name}
            and any(
                s.get("Effect") == "Deny"
                and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                for s in policy["Properties"]["PolicyDocument"]["Statement"]
            )
            for policy in policies.values()
        )
        if not ssl_only:
            problems.append(f"{name}: not SSL-only")
    return problems


def wildcard_actions(template: dict[str, Any]) -> list[str]:
    found = []
    for kind in ("AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
        for name, resource in _resources(template, kind).items():
            props = resource.get("Properties", {})
            documents = [props.get("PolicyDocument")]
            documents += [p.get("PolicyDocument") for p in props.get("Policies", [])]
            for document in filter(None, documents):
                for statement in _as_list(document.get("Statement", [])):
                    for action in _as_list(statement.get("Action", [])):
                        if statement.get("Effect") == "Allow" and (
                            action == "*" or str(action).endswith(":*")
                        ):
                            found.append(f"{name}: {action}")
    return found


def table_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    for name, table in _resources(template, "AWS::DynamoDB::Table").items():
        props = table.get("Properties", {})
        pitr = props.get("PointInTimeRecoverySpecification", {})
        if not pitr.get("PointInTimeRecoveryEnabled"):
            problems.append(f"{name}: no point-in-time recovery")
        if not props.get("SSESpecification", {}).get("SSEEnabled"):
            problems.append(f"{name}: not encrypted with KMS")
        if table.get("DeletionPolicy") != "Retain":
            problems.append(f"{name}: not retained on stack deletion")
    return problems


def function_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    for name, fn in _resources(template, "AWS::Lambda::Function").items():
        props = fn.get("Properties", {})
        if "Timeout" not in props or "MemorySize" not in props:
            problems.append(f"{name}: no explicit timeout and memory")
        if props.get("TracingConfig", {}).get("Mode") != "Active":
            problems.append(f"{name}: no tracing")
        if "LogGroup" not in props.get("LoggingConfig", {}):
            problems.append(f"{name}: no log group with retention")
    for name, group in _resources(template, "AWS::Logs::LogGroup").items():
        if "RetentionInDays" not in group.get("Properties", {}):
            problems.append(f"{name}: keeps logs forever")
    return problems


def async_targets_without_dlq(template: dict[str, Any]) -> list[str]:
    """Every rule target has a DLQ; every queue a function consumes redrives to a DLQ, and
    the function reports partial batch failures (so only failed records come back)."""
    problems = []
    for name, rule in _resources(template, "AWS::Events::Rule").items():
        for target in rule["Properties"].get("Targets", []):
            if "DeadLetterConfig" not in target:
                problems.append(f"{name}/{target.get('Id')}: no DLQ")
    queues = _resources(template, "AWS::SQS::Queue")
    for name, mapping in _resources(template, "AWS::Lambda::EventSourceMapping").items():
        props = mapping["Properties"]
        source = props.get("EventSourceArn", {})
        queue = source.get("Fn::GetAtt", [None])[0] if isinstance(source, dict) else None
        if queue not in queues:
            continue
        if "RedrivePolicy" not in queues[queue].get("Properties", {}):
            problems.append(f"{name}: its queue {queue} has no DLQ")
        if "ReportBatchItemFailures" not in props.get("FunctionResponseTypes", []):
            problems.append(f"{name}: no partial batch failures")
    return problems


def task_problems(name: str, definition: dict[str, Any]) -> list[str]:
    """Every Task, nested ones (Map item processors, Parallel branches) included, has a
    timeout and retries Lambda service errors."""
    problems = []
    for state_name, state in definition.get("States", {}).items():
        where = f"{name}.{state_name}"
        if state["Type"] == "Task":
            if "TimeoutSeconds" not in state:
                problems.append(f"{where}: no timeout")
            if not any(
                "Lambda.ServiceException" in r["ErrorEquals"] for r in state.get("Retry", [])
            ):
                problems.append(f"{where}: no retry on Lambda service errors")
        for inner in [
            state.get("ItemProcessor"),
            state.get("Iterator"),
            *state.get("Branches", []),
        ]:
            if inner:
                problems += task_problems(where, inner)
    return problems

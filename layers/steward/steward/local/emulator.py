"""The embedded AWS emulator: moto's backends, in this process.

The platform's own boto3 clients reach them in-process (``mock_aws``: no socket, no HTTP
parsing; README, "The local platform", names the bench that measures it); other processes reach the
same backends through moto's threaded server on a loopback port (``STEWARD_EMULATOR_URL``,
their ``AWS_ENDPOINT_URL``), as they would reach LocalStack. Step
Functions executes state machines for real (moto's ASL interpreter) and Lambda invocations
are handed to :mod:`steward.local.runtime`, which runs the repository's handlers in-process.
"""

from __future__ import annotations

import bisect
import copy
import json
import logging
import os
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

from steward.local.moto_costs import item_level_transaction_rollback, untracked_model_objects

ACCOUNT = "123456789012"
REGION = "us-east-1"

_ENV = {
    "AWS_ACCESS_KEY_ID": "steward-local",
    "AWS_SECRET_ACCESS_KEY": "steward-local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "MOTO_ALLOW_NONEXISTENT_REGION": "false",
}


_STORE_LOCK = threading.RLock()


def _locked(function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _STORE_LOCK:
            return function(*args, **kwargs)

    wrapper._steward_serialized = True  # type: ignore[attr-defined]
    return wrapper


def serialize_stores() -> None:
    """DynamoDB makes conditional writes and transactions atomic, and S3 serves concurrent
    writes to one key safely; moto's in-memory backends are plain Python objects that
    concurrent requests can corrupt. One lock around each DynamoDB and S3 request restores
    the guarantees the code relies on (neither service ever calls another). Idempotent."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import S3Response

    if getattr(DynamoHandler.call_action, "_steward_serialized", False):
        return
    DynamoHandler.call_action = _locked(DynamoHandler.call_action)  # type: ignore[method-assign]
    from moto.s3 import urls

    wrapped = {}
    for name in ("bucket_dispatch", "ambiguous_dispatch", "key_dispatch"):
        original = getattr(S3Response, name)  # bound classmethods
        wrapped[original] = _locked(original)
        setattr(S3Response, name, staticmethod(wrapped[original]))
    for pattern, view in list(urls.url_paths.items()):  # the routes captured at import
        if view in wrapped:
            urls.url_paths[pattern] = wrapped[view]


# DynamoDB actions that change no item; any other action counts as a write.
DYNAMODB_READS = frozenset(
    {
        "BatchGetItem", "DescribeContinuousBackups", "DescribeEndpoints", "DescribeStream",
        "DescribeTable", "DescribeTimeToLive", "GetItem", "GetRecords", "GetShardIterator",
        "ListStreams", "ListTables", "ListTagsOfResource", "Query", "Scan", "TransactGetItems",
    }
)  # fmt: skip
KEY_CONDITIONS = {"hash_key_conditions", "range_key_conditions"}
_writes = [0]  # DynamoDB write requests served so far: a partition map older than this is stale


def _counting_writes(function: Any) -> Any:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        write = self._get_action() not in DYNAMODB_READS
        if write:
            _writes[0] += 1
        try:
            return function(self, *args, **kwargs)
        finally:
            if write:  # and after: a map built while the write ran is stale too
                _writes[0] += 1

    wrapper.__dict__.update(function.__dict__)  # keeps serialize_stores' mark
    return wrapper


def indexed_queries() -> None:
    """moto answers a Query by scanning every item of the table (a GSI query, and a table
    query too) and sorting the matches, which at 100,000 items costs ~0.1-0.5 s a call.
    Give it only the items of the partition asked for: a table query reads the partition's
    own dict; a GSI query reads a map of the index's partitions, each in sort-key order,
    rebuilt on the first query after any DynamoDB write, less the items that sort before
    the page's start key. moto still applies every condition, the ordering, the start key,
    the limit and the projection to them, so the answer is unchanged. Needs
    :func:`serialize_stores` (one request at a time). Idempotent."""
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    original = Table.query
    if getattr(original, "_steward_indexed", False):
        return
    DynamoHandler.call_action = _counting_writes(DynamoHandler.call_action)  # type: ignore[method-assign]

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        found = _candidates(self, hash_key, args, kwargs)
        if found is None:
            return original(self, hash_key, *args, **kwargs)
        self.all_items = lambda: found  # shadows the methods for this one call
        if found and _text_keys(self):  # already in moto's order: (gsi sk, pk, sk)
            self.sorted_items = lambda _hash, _range, items: items
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items
            self.__dict__.pop("sorted_items", None)

    query._steward_indexed = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]


def _partitions(table: Any, index_name: str, attr: str, sort: str | None) -> Any:
    cache: dict[str, tuple[int, dict[Any, list[Any]]]] = table.__dict__.setdefault(
        "_steward_partitions", {}
    )
    built, found = cache.get(index_name, (-1, {}))
    if built != _writes[0]:
        found = {}
        for item in table.all_items():
            key = item.attrs.get(attr)
            if key is not None:
                found.setdefault((key.type, str(key.value)), []).append(item)
        if sort is not None:
            for members in found.values():
                members.sort(key=lambda i: (_sort_value(i, sort), *_table_key(i)))
        cache[index_name] = (_writes[0], found)
    return found


def _candidates(table: Any, hash_key: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if not index_name:
        if hash_key is None or table.range_key_attr is None:
            return None
        return list(table.items.get(hash_key, {}).values())
    conditions = kwargs.get("hash_key_conditions")
    if not conditions or len(conditions) != 1:
        return None
    attr, value = conditions[0]
    schema = table.get_index(index_name).schema
    sort = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
    members = _partitions(table, index_name, attr, sort).get((value.type, str(value.value)), [])
    if len(args) < 9 or not args[4] or sort is None:  # not forward: moto reverses all
        return list(members)
    range_comparison, _values, limit, start = args[:4]
    after = (start or {}).get(sort, {}).get("S")
    first = end = 0
    if after is not None:  # those sorting before the start key are skipped anyway
        first = bisect.bisect_left(members, after, key=lambda i: _sort_value(i, sort))
        end = bisect.bisect_right(members, after, key=lambda i: _sort_value(i, sort))
    # moto counts the limit before a filter expression (as DynamoDB does): only a range
    # condition or a legacy QueryFilter (extra keyword arguments) decides what counts
    plain = range_comparison is None and not kwargs.get("range_key_conditions")
    if plain and isinstance(limit, int) and set(kwargs) <= KEY_CONDITIONS:
        return members[first : end + limit + 1]  # one past the limit: LastEvaluatedKey
    return members[first:]


def _table_key(item: Any) -> tuple[str, str]:
    return str(item.hash_key.value), str(item.range_key.value if item.range_key else "")


def _text_keys(table: Any) -> bool:
    """Whether the table's and its indexes' key attributes are strings, whose order is
    the text order the partitions are kept in."""
    names = {table.hash_key_attr, table.range_key_attr} - {None}
    for index in table.all_indexes():
        names |= {k["AttributeName"] for k in index.schema}
    return all(d.get("AttributeType") == "S" for d in table.attr if d["AttributeName"] in names)


def _sort_value(item: Any, attr: str | None) -> str:
    """An item's sort key as text: the order of string sort keys (others sort as text
    here and are re-sorted by moto)."""
    value = item.attrs.get(attr) if attr else None
    return str(value.value) if value is not None else ""


def _plain_attribute(value: Any) -> bool:
    """An AttributeValue already in its wire form: strings, numbers as strings, booleans,
    and lists and maps of the same (no binary, which the serializer must encode)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        return isinstance(inner, str)
    if kind in ("SS", "NS"):
        return isinstance(inner, list) and all(isinstance(v, str) for v in inner)
    if kind in ("BOOL", "NULL"):
        return isinstance(inner, bool)
    if kind == "M":
        return isinstance(inner, dict) and all(_plain_attribute(v) for v in inner.values())
    if kind == "L":
        return isinstance(inner, list) and all(_plain_attribute(v) for v in inner)
    return False


def plain_attribute_values() -> None:
    """moto serializes a DynamoDB answer member by member through botocore's shape model:
    ~1 s for a page of 100 models on a loaded machine, more than the query. An attribute
    value that is already in its wire form is copied as is (binary values still go through
    the serializer, which base64-encodes them). Idempotent."""
    from moto.core.serialize import BaseJSONSerializer

    original = BaseJSONSerializer._serialize_type_structure
    if getattr(original, "_steward_plain", False):
        return

    def structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and _plain_attribute(value):
            serialized[key] = value
            return
        original(self, serialized, value, shape, key)

    structure._steward_plain = True  # type: ignore[attr-defined]
    BaseJSONSerializer._serialize_type_structure = structure  # type: ignore[method-assign]


def schedule_rules_match_no_events() -> None:
    """In EventBridge a scheduled rule never matches events; moto treats a rule without an
    event pattern as matching every event (and then fails on its Lambda target). Idempotent."""
    from moto.events.models import Rule

    original = Rule.send_to_targets
    if getattr(original, "_steward_patched", False):
        return

    def send_to_targets(self: Rule, *args: Any, **kwargs: Any) -> None:
        if self.scheduled_expression and not self.event_pattern.get_pattern():
            return
        original(self, *args, **kwargs)

    send_to_targets._steward_patched = True  # type: ignore[attr-defined]
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def rules_invoke_lambda_targets() -> None:
    """moto delivers rule targets to logs, SQS and buses only (a Lambda target raises):
    invoke Lambda targets asynchronously, with the target's input, as EventBridge does."""
    import boto3
    from moto.events.models import Rule
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets
    if getattr(original, "_steward_lambda", False):
        return

    def _input(target: dict[str, Any], event: Any) -> Any:
        """The target's input: constant, or the transformer's template with each
        ``<name>`` replaced by the JSON of its ``$.a.b`` path in the event."""
        if "Input" in target:
            return json.loads(target["Input"])
        transformer = target.get("InputTransformer")
        if not transformer:
            return event
        text = transformer["InputTemplate"]
        for name, path in transformer.get("InputPathsMap", {}).items():
            value: Any = event
            for part in path.removeprefix("$.").split("."):
                value = value.get(part) if isinstance(value, dict) else None
            text = text.replace(f"<{name}>", json.dumps(value))
        return json.loads(text)

    def send_to_targets(self: Rule, event: Any, transform_input: bool = True) -> None:
        functions = [t for t in self.targets if parse_arn(t["Arn"]).service == "lambda"]
        rest = [t for t in self.targets if t not in functions]
        if rest:
            others = copy.copy(self)
            others.targets = rest
            original(others, event, transform_input)
        if not functions or not self.event_pattern.matches_event(event):
            return
        for target in functions:
            arn = parse_arn(target["Arn"])
            payload = _input(target, event) if transform_input else event
            boto3.client("lambda", region_name=arn.region).invoke(
                FunctionName=target["Arn"],
                InvocationType="Event",
                Payload=json.dumps(payload).encode(),
            )

    send_to_targets._steward_lambda = True  # type: ignore[attr-defined]
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]


def early_task_success_with_heartbeat() -> None:
    """A task token completed while its Lambda still runs (a decision that came first)
    ends the wait in AWS; moto, when the task has a heartbeat, waits for a heartbeat that
    never comes. Take an outcome that is already there. Idempotent."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as module,
    )

    cls = module.StateTaskServiceCallback
    original = cls._wait_for_task_token_heartbeat
    if getattr(original, "_steward_patched", False):
        return

    def wait(self: Any, env: Any, callback_endpoint: Any, heartbeat_endpoint: Any) -> Any:
        outcome = callback_endpoint.get_outcome()
        if outcome is not None:
            return outcome
        return original(self, env, callback_endpoint, heartbeat_endpoint)

    wait._steward_patched = True  # type: ignore[attr-defined]
    cls._wait_for_task_token_heartbeat = wait  # type: ignore[method-assign]


def fidelity_patches() -> None:
    """Where moto departs from the AWS behaviour Steward relies on, restore it (memory
    included: an AWS service does not keep what it deleted)."""
    untracked_model_objects()
    serialize_stores()
    item_level_transaction_rollback()
    early_task_success_with_heartbeat()
    rules_invoke_lambda_targets()
    schedule_rules_match_no_events()


def scale_patches() -> None:
    """For a registry of thousands of models (``bench/inventory.py``): partition-only
    queries and plain attribute values. Not applied by the platform or the test stacks: the
    GSI map is rebuilt after every write, and their tables are small enough for moto's own
    scan.
    They stay applied for the rest of the process."""
    indexed_queries()
    plain_attribute_values()


def configure_moto() -> dict[str, object]:
    """Execute state machines; run Lambda without Docker (our hook runs the handlers)."""
    # moto's CloudFormation warns for each resource type it skips (stages, policies): the
    # gaps are known and bridged in steward.local.provision.
    warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
    logging.getLogger("moto").setLevel(logging.ERROR)
    from moto.core.config import default_user_config

    fidelity_patches()
    previous = copy.deepcopy(dict(default_user_config))
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}
    core = default_user_config.setdefault("core", {})
    core["reset_boto3_session"] = False
    return previous


def restore_moto(previous: dict[str, object]) -> None:
    from moto.core.config import default_user_config

    default_user_config.clear()  # type: ignore[attr-defined]
    default_user_config.update(previous)  # type: ignore[typeddict-item]


@dataclass
class Emulator:
    host: str = "127.0.0.1"
    port: int = 0
    _server: object | None = field(default=None, repr=False)
    _moto_config: dict[str, object] | None = field(default=None, repr=False)
    _mock: Any = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Emulator:
        from moto.server import ThreadedMotoServer

        self._moto_config = configure_moto()
        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        server.start()
        self.port = int(server.get_host_and_port()[1])
        self._server = server
        self.reset()
        os.environ.update(_ENV)
        # This process's clients (the functions, pollers, scheduler) reach the same backends
        # in-process, without a socket; other processes use the port (STEWARD_EMULATOR_URL).
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ["STEWARD_EMULATOR_URL"] = self.endpoint
        # S3 keeps the port as its endpoint, so that presigned URLs handed out (a large
        # evidence pack) reach the server; moto serves this process's requests to it
        # in-process all the same.
        os.environ["AWS_ENDPOINT_URL_S3"] = self.endpoint
        os.environ["MOTO_S3_CUSTOM_ENDPOINTS"] = self.endpoint
        from moto import mock_aws

        self._mock = mock_aws()
        self._mock.start(reset=False)
        # moto's Step Functions interpreter calls Lambda back through this port.
        os.environ["MOTO_PORT"] = str(self.port)
        return self

    def reset(self) -> None:
        """Empty every emulated service: moto's backends live in this process and would
        otherwise carry one platform's state into the next."""
        import urllib.request

        url = f"{self.endpoint}/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310 - loopback http
        urllib.request.urlopen(request, timeout=30).close()  # noqa: S310 - loopback emulator

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop(remove_data=False)
            self._mock = None
            for name in ("STEWARD_EMULATOR_URL", "AWS_ENDPOINT_URL_S3", "MOTO_S3_CUSTOM_ENDPOINTS"):
                os.environ.pop(name, None)
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None
        if self._moto_config is not None:
            restore_moto(self._moto_config)
            self._moto_config = None

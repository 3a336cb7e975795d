"""The inventory's index in the template: the registry table's gsi1 serves the model
listing and every filter's index entries, and the API may rewrite (delete) stale entries."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import Synth


def _registry_table(synth: Synth) -> dict[str, Any]:
    return next(
        v
        for k, v in synth.resources("AWS::DynamoDB::Table").items()
        if k.startswith("RegistryTable")
    )


def test_registry_table_has_the_inventory_index(synth: Synth) -> None:
    indexes = _registry_table(synth)["Properties"]["GlobalSecondaryIndexes"]
    gsi1 = next(i for i in indexes if i["IndexName"] == "gsi1")
    assert gsi1["KeySchema"] == [
        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
    ]
    # a filtered page re-reads each model (BatchGetItem): the index projects what it must
    assert gsi1["Projection"]["ProjectionType"] == "ALL"


def _actions_on_registry(synth: Synth, role_prefix: str) -> set[str]:
    table = next(
        k for k in synth.resources("AWS::DynamoDB::Table") if k.startswith("RegistryTable")
    )
    actions: set[str] = set()
    for key, policy in synth.resources("AWS::IAM::Policy").items():
        if not key.startswith(role_prefix):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if table in str(statement["Resource"]):
                found = statement["Action"]
                actions |= set(found if isinstance(found, list) else [found])
    return actions


def test_the_api_keeps_index_entries_in_the_models_own_transaction(synth: Synth) -> None:
    actions = _actions_on_registry(synth, "Api")
    # create: Put (model + entries); save: Update + Delete/Put of the changed entries
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= actions
    # a filtered page: query the index, then BatchGetItem the models it names
    assert {"dynamodb:Query", "dynamodb:BatchGetItem"} <= actions


def test_every_role_that_saves_a_model_may_move_its_index_entries(synth: Synth) -> None:
    # the monitoring function saves latest_drift: the drift entry moves in that transaction
    for role in ("Api", "Tasks", "Lifecycle", "MonitoringFunction"):
        actions = _actions_on_registry(synth, role)
        assert {"dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem"} <= actions, role

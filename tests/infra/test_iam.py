"""Least privilege: no wildcard on data, one role per function naming only what
infra/access.py declares, and tenant data reachable only under tenant-prefixed keys."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest

from chalicelib.dal import keys
from chalicelib.dal.schema import ALL_TABLES
from chalicelib.domain.customers import UniqueField
from chalicelib.domain.ids import new_tenant_id
from chalicelib.domain.tenancy import tenant_id
from infra.access import (
    AUDIT_DIGEST_KEYS,
    AUDIT_ENTRY_KEYS,
    FUNCTION_ACCESS,
    TENANT_DATA_KEYS,
    TENANT_SHARD_KEYS,
    FunctionAccess,
)
from tests.infra.conftest import Synthesised
from tests.infra.template_queries import (
    Statement,
    Template,
    as_list,
    get_att_target,
    policies_of_role,
    policy_statements,
    resources_of_type,
)

# ListStreams names no resource (it only lists stream ARNs, it reads no data); it is the one
# DynamoDB action allowed on "*", and only stream consumers get it.
ACTIONS_WITHOUT_RESOURCES = {"dynamodb:ListStreams"}


def _all_statements(synthesised: Synthesised) -> list[tuple[str, Statement]]:
    found = [
        (stack, statement)
        for stack, template in synthesised.templates.items()
        for statement in policy_statements(template)
    ]
    assert found, "no policy statements found: the query is broken"
    return found


def test_no_statement_grants_a_wildcard_action(synthesised: Synthesised) -> None:
    for stack, statement in _all_statements(synthesised):
        assert "NotAction" not in statement.body, (stack, statement)
        for action in statement.actions:
            assert action != "*", (stack, statement)
            assert not (action.lower().startswith("dynamodb:") and "*" in action), (
                stack,
                statement,
            )


def test_no_dynamodb_action_on_every_resource(synthesised: Synthesised) -> None:
    for stack, statement in _all_statements(synthesised):
        dynamodb_actions = {a for a in statement.actions if a.lower().startswith("dynamodb:")}
        if not dynamodb_actions or statement.body.get("Effect") != "Allow":
            continue
        assert "NotResource" not in statement.body, (stack, statement)
        wildcards = [r for r in statement.resources if isinstance(r, str) and "*" in r]
        if wildcards:
            assert dynamodb_actions <= ACTIONS_WITHOUT_RESOURCES, (stack, statement)


def _function_roles(template: Template) -> dict[str, str]:
    return {
        name: str(get_att_target(function["Properties"]["Role"]))
        for name, function in resources_of_type(template, "AWS::Serverless::Function").items()
    }


def _table_names_by_logical_id(template: Template) -> dict[str, str]:
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    by_table_name = {t["Properties"]["TableName"]: logical for logical, t in tables.items()}
    functions = resources_of_type(template, "AWS::Serverless::Function").values()
    environment = next(iter(functions))["Properties"]["Environment"]["Variables"]
    # The function names each table by Ref; map the Ref back to the schema's logical name.
    refs = {
        spec.logical_name: get_att_target(environment[spec.environment_variable])
        for spec in ALL_TABLES
    }
    assert set(refs.values()) <= set(by_table_name.values())
    return {str(ref): logical_name for logical_name, ref in refs.items()}


def _grant_target(resource: Any, tables: dict[str, str]) -> str:
    """'Data' for the table's ARN, 'Data/index/gsi1' for an index, 'Data/stream' for its stream."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        table, attribute = resource["Fn::GetAtt"]
        return tables[table] + ("/stream" if attribute == "StreamArn" else "")
    parts = resource["Fn::Join"][1]
    return _grant_target(parts[0], tables) + "".join(parts[1:])


Grant = tuple[str, tuple[str, ...], tuple[str, ...]]  # target, actions, leading-key patterns


def _declared_grants(access: FunctionAccess) -> set[Grant]:
    grants = set()
    for table in access.tables:
        name = table.table.logical_name
        grants.add((name, tuple(sorted(table.actions)), table.leading_keys))
        for index_name, index in table.indexes.items():
            target = f"{name}/index/{index_name}"
            grants.add((target, tuple(sorted(index.actions)), index.leading_keys))
    return grants


def _leading_keys(statement: Statement) -> tuple[str, ...]:
    condition = statement.body.get("Condition", {}).get("ForAllValues:StringLike", {})
    return tuple(as_list(condition.get("dynamodb:LeadingKeys", [])))


def _data_grants(template: Template, role: str) -> set[Grant]:
    """The role's item and index grants (stream reads are checked in test_streams)."""
    tables = _table_names_by_logical_id(template)
    granted = set()
    for statement in policies_of_role(template, role):
        actions = tuple(sorted(a for a in statement.actions if a.startswith("dynamodb:")))
        if not actions or set(actions) <= ACTIONS_WITHOUT_RESOURCES:
            continue
        for resource in statement.resources:
            target = _grant_target(resource, tables)
            if not target.endswith("/stream"):
                granted.add((target, actions, _leading_keys(statement)))
    return granted


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_function_has_its_own_role(stage_templates: dict[str, Template], stage: str) -> None:
    template = stage_templates[stage]
    roles = _function_roles(template)
    assert roles, "no functions found"
    assert len(set(roles.values())) == len(roles)
    assert set(roles.values()) <= set(resources_of_type(template, "AWS::IAM::Role"))


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_function_roles_grant_exactly_the_declared_data_access(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    for function, role in _function_roles(template).items():
        assert _data_grants(template, role) == _declared_grants(FUNCTION_ACCESS[function])


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_tenant_data_is_reachable_only_under_tenant_keys(
    stage_templates: dict[str, Template], stage: str
) -> None:
    # Given every grant on the Data table or its indexes, of every function
    template = stage_templates[stage]
    grants = [
        grant
        for role in _function_roles(template).values()
        for grant in _data_grants(template, role)
        if grant[0].split("/")[0] == "Data"
    ]
    assert grants, "no function is granted the Data table"
    # Then each is bound to tenant keys: the table's to "T#{tenant}#…", an index's to the
    # patterns declared for it
    for target, _actions, leading_keys in grants:
        assert leading_keys, target
        if target == "Data":
            assert leading_keys == (TENANT_DATA_KEYS,)


def test_the_leading_keys_pattern_matches_every_key_the_dal_builds() -> None:
    # Given keys built by the data-access layer for one tenant
    tenant = tenant_id(new_tenant_id())
    built = [
        keys.customer_pk(tenant, "c_1"),
        keys.customers_by_created_pk(tenant),
        keys.tag_pk(tenant, "vip"),
        *(keys.unique_pk(tenant, field, "value") for field in UniqueField),
    ]
    # Then every one matches the IAM pattern, and starts with that tenant's prefix
    for key in built:
        assert fnmatchcase(key, TENANT_DATA_KEYS), key
        assert key.startswith(f"T#{tenant}#"), key


def test_the_shard_pattern_matches_the_by_tenant_index_keys() -> None:
    tenant = tenant_id(new_tenant_id())
    for shard in range(keys.TENANT_SHARDS):
        assert fnmatchcase(keys.tenant_shard_pk(tenant, shard), TENANT_SHARD_KEYS)
        assert not fnmatchcase(keys.tenant_shard_pk(tenant, shard), TENANT_DATA_KEYS)


def _indexes_the_models_query() -> dict[str, set[str]]:
    """Index names of every PynamoDB model, by the table its base class binds it to."""
    from pynamodb.models import Model

    from chalicelib.dal import models

    models.import_all_models()

    def subclasses(base: type[Model]) -> list[type[Model]]:
        found = []
        for subclass in base.__subclasses__():
            found += [subclass, *subclasses(subclass)]
        return found

    bases = {"Data": models.DataTableModel, "Control": models.ControlTableModel}
    return {
        table: {
            index.Meta.index_name
            for model in subclasses(base)
            for index in getattr(model, "_indexes", {}).values()
        }
        for table, base in bases.items()
    }


def test_every_index_a_model_can_query_is_granted_to_some_function() -> None:
    # Given the indexes the data-access layer's models define
    used = _indexes_the_models_query()
    assert used["Data"], "no index found on the data models: the query is broken"
    # Then some function may query each one (a new index needs an entry in infra/access.py)
    granted: dict[str, set[str]] = {spec.logical_name: set() for spec in ALL_TABLES}
    for access in FUNCTION_ACCESS.values():
        for table in access.tables:
            granted[table.table.logical_name] |= set(table.indexes)
    for table, indexes in used.items():
        assert indexes <= granted[table], f"{table}: not granted {indexes - granted[table]}"


# --- the audit trail: the chain key and the entries partition -----------------------------

SIGNING_FUNCTIONS = {"ChainAuditTrail", "AppendAuditHeartbeats"}


def _chain_key(template: Template) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, key["Properties"])
        for logical_id, key in resources_of_type(template, "AWS::KMS::Key").items()
        if key["Properties"].get("KeyUsage") == "SIGN_VERIFY"
    ]
    return found


def _grants_signing(actions: list[str]) -> bool:
    return any(fnmatchcase("kms:Sign", action) for action in actions)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_only_the_chain_functions_may_sign_with_the_audit_chain_key(
    stage_templates: dict[str, Template], stage: str
) -> None:
    # Given the stage's asymmetric key and its function roles
    template = stage_templates[stage]
    key_id, key = _chain_key(template)
    roles = _function_roles(template)
    signer_roles = {roles[function] for function in SIGNING_FUNCTIONS}

    # Then it is a P-256 signing key
    assert key["KeySpec"] == "ECC_NIST_P256"
    # and its key policy lets the chain functions' roles sign, and no one else
    signers_in_key_policy = {
        get_att_target(principal)
        for statement in key["KeyPolicy"]["Statement"]
        if statement["Effect"] == "Allow" and _grants_signing(as_list(statement["Action"]))
        for principal in as_list(statement["Principal"]["AWS"])
    }
    assert signers_in_key_policy == signer_roles
    # and so do the identity policies: no other role is granted kms:Sign on anything
    signing_roles = {
        role
        for function, role in roles.items()
        for statement in policies_of_role(template, role)
        if _grants_signing(statement.actions)
    }
    assert signing_roles == signer_roles
    # and the API verifies with the key, but cannot sign
    api_key_actions = {
        action
        for statement in policies_of_role(template, roles["APIHandler"])
        if {get_att_target(r) for r in statement.resources} == {key_id}
        for action in statement.actions
    }
    assert api_key_actions == {"kms:Verify", "kms:GetPublicKey"}
    # and every function is told which key it is
    for function in resources_of_type(template, "AWS::Serverless::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert get_att_target(variables["AUDIT_SIGNING_KEY_ID"]) == key_id


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_heartbeat_schedule_only_lists_the_tenants_and_never_touches_the_chain(
    stage_templates: dict[str, Template], stage: str
) -> None:
    # Given the digest schedule's role (it queues pages of tenants: tests/infra/test_queues.py)
    template = stage_templates[stage]
    role = _function_roles(template)["AuditHeartbeats"]
    chain_key, _ = _chain_key(template)

    # Then its only data access is the Query of the tenants on the control table's gsi1
    assert {(target, actions) for target, actions, _ in _data_grants(template, role)} == {
        ("Control", ("dynamodb:Query",)),
        ("Control/index/gsi1", ("dynamodb:Query",)),
    }
    # and it has nothing on the audit chain key (the heartbeat consumer signs)
    assert not any(
        get_att_target(resource) == chain_key
        for statement in policies_of_role(template, role)
        for resource in statement.resources
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_api_can_only_add_audit_entries_never_change_the_chain(
    stage_templates: dict[str, Template], stage: str
) -> None:
    # Given the API function's grants on the Audit table
    template = stage_templates[stage]
    role = _function_roles(template)["APIHandler"]
    audit = {grant for grant in _data_grants(template, role) if grant[0] == "Audit"}

    # Then it reads tenant keys, and puts only under the entries partition's keys
    assert audit == {
        ("Audit", ("dynamodb:GetItem", "dynamodb:Query"), (TENANT_DATA_KEYS,)),
        ("Audit", ("dynamodb:PutItem",), (AUDIT_ENTRY_KEYS,)),
    }
    # (no UpdateItem, DeleteItem or BatchWriteItem: nothing the API holds rewrites an item
    # in place; an overwriting PutItem is refused by the code's attribute_not_exists)


def test_the_entries_pattern_matches_entries_and_nothing_else_of_the_trail() -> None:
    tenant = tenant_id(new_tenant_id())

    assert fnmatchcase(keys.audit_entries_pk(tenant), AUDIT_ENTRY_KEYS)
    for other in (
        keys.audit_digests_pk(tenant),
        keys.audit_mention_pk(tenant, "cus_1"),
        keys.audit_window_pk(tenant, "key_1"),
    ):
        assert not fnmatchcase(other, AUDIT_ENTRY_KEYS), other
    assert fnmatchcase(keys.audit_digests_pk(tenant), AUDIT_DIGEST_KEYS)

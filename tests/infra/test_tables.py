"""Every table of chalicelib.dal.schema is deployed with its keys, PITR, a customer-managed
KMS key, a NEW_AND_OLD_IMAGES stream and TTL; prod's are protected from deletion."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.dal.schema import ALL_TABLES
from infra.stages import PROJECT_ROOT, STAGES, chalice_stage_environment
from tests.infra.template_queries import Template, get_att_target, resources_of_type

STAGE_NAMES = sorted(STAGES)


def _tables_by_name(template: Template) -> dict[str, dict[str, Any]]:
    return {
        resource["Properties"]["TableName"]: resource
        for resource in resources_of_type(template, "AWS::DynamoDB::Table").values()
    }


def _expected_names(stage: str) -> dict[str, str]:
    environment = chalice_stage_environment(PROJECT_ROOT, stage)
    return {spec.logical_name: environment[spec.environment_variable] for spec in ALL_TABLES}


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_the_tables_are_exactly_those_of_the_schema(
    stage_templates: dict[str, Template], stage: str
) -> None:
    # Given the stage's template
    tables = _tables_by_name(stage_templates[stage])
    # Then it holds one table per TableSpec, named as .chalice/config.json names it
    assert sorted(tables) == sorted(_expected_names(stage).values())
    assert len(tables) == len(ALL_TABLES) > 0


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_keys_and_indexes_match_the_schema(
    stage_templates: dict[str, Template], stage: str
) -> None:
    tables = _tables_by_name(stage_templates[stage])
    for spec in ALL_TABLES:
        name = _expected_names(stage)[spec.logical_name]
        deployed = tables[name]["Properties"]
        wanted = spec.create_table_request(name)
        assert deployed["KeySchema"] == wanted["KeySchema"]
        assert sorted(deployed["AttributeDefinitions"], key=str) == sorted(
            wanted["AttributeDefinitions"], key=str
        )
        assert sorted(deployed.get("GlobalSecondaryIndexes", []), key=str) == sorted(
            wanted.get("GlobalSecondaryIndexes", []), key=str
        )
        assert deployed["BillingMode"] == "PAY_PER_REQUEST"


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_table_has_pitr_a_cmk_a_stream_and_ttl(
    stage_templates: dict[str, Template], stage: str
) -> None:
    template = stage_templates[stage]
    keys = resources_of_type(template, "AWS::KMS::Key")
    ttl_attributes = {
        _expected_names(stage)[spec.logical_name]: spec.ttl_attribute for spec in ALL_TABLES
    }
    for name, table in _tables_by_name(template).items():
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        sse = props["SSESpecification"]
        assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS", name
        key = get_att_target(sse["KMSMasterKeyId"])
        assert key in keys, f"{name} is not encrypted with a key of this stack"
        assert keys[key]["Properties"]["EnableKeyRotation"] is True
        assert props["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert props["TimeToLiveSpecification"] == {
            "AttributeName": ttl_attributes[name],
            "Enabled": True,
        }


def test_prod_tables_and_key_are_protected_and_kept(stage_templates: dict[str, Template]) -> None:
    template = stage_templates["prod"]
    for name, table in _tables_by_name(template).items():
        assert table["Properties"]["DeletionProtectionEnabled"] is True, name
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain", name
    for key in resources_of_type(template, "AWS::KMS::Key").values():
        assert key["DeletionPolicy"] == "Retain"


def test_dev_tables_can_be_torn_down(stage_templates: dict[str, Template]) -> None:
    for name, table in _tables_by_name(stage_templates["dev"]).items():
        assert table["Properties"]["DeletionProtectionEnabled"] is False, name
        assert table["DeletionPolicy"] == "Delete", name

"""Schemathesis over the served `/v1/openapi.json`, against the local stack: every
operation, generated valid and invalid inputs, and every answer below 500 with a status
and body its operation documents.

Tenant routes are called with a tenant's admin key, `/v1/admin/...` routes with the
platform-admin key (the access table says which). Path ids are sometimes the generated
strings and sometimes ids of seeded data, so the fuzzer reaches the found-it branches too;
the seeded api key and tenant that the fuzzer may rotate, revoke, suspend or delete are
sacrifices, not the keys it calls with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chalicelib.api.access import access_for
from chalicelib.api.openapi import build_openapi
from chalicelib.domain.tenancy import Role
from tests.e2e.conftest import LocalStack
from tests.support.api import Api
from tests.support.seed import seed_one_of_each

MAX_EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class FuzzTarget:
    base_url: str
    tenant_key: str
    platform_key: str
    path_ids: dict[str, str]

    def key_for(self, method: str, path: str) -> str:
        rule = access_for(method, path)
        if rule is not None and Role.PLATFORM_ADMIN in rule.roles:
            return self.platform_key
        return self.tenant_key


def _seed(platform: Api) -> dict[str, str]:
    """A tenant's worth of data to aim path ids at; answers the ids by path parameter."""
    tenant = platform.create_tenant("Fuzzed")
    seeded = seed_one_of_each(tenant)
    spare_tenant = platform.create_tenant("Spare")
    return {
        **seeded,
        "tenant_key": str(tenant.key),
        "tenant_id": str(spare_tenant.tenant_id),
    }


@pytest.fixture(scope="module")
def fuzz_target(isolated_stack: LocalStack, isolated_platform: Api) -> FuzzTarget:
    seeded = _seed(isolated_platform)
    tenant_key = seeded.pop("tenant_key")
    return FuzzTarget(isolated_stack.base_url, tenant_key, isolated_stack.admin_key, seeded)


@pytest.fixture(scope="module")
def served_schema(isolated_stack: LocalStack) -> Any:
    return schemathesis.openapi.from_url(f"{isolated_stack.base_url}/v1/openapi.json")


def _documented_operations() -> list[tuple[str, str]]:
    """(method, path) of every operation the generator documents: new routes are fuzzed
    without an edit here. The run itself reads the document the stack serves."""
    return [
        (method.upper(), path)
        for path, methods in build_openapi()["paths"].items()
        for method in methods
    ]


def _cases(operation: Any) -> st.SearchStrategy[Any]:
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )


@pytest.mark.parametrize(("method", "path"), _documented_operations())
def test_every_operation_answers_what_it_documents(
    method: str, path: str, served_schema: Any, fuzz_target: FuzzTarget
) -> None:
    operation = served_schema[path][method.lower()]
    key = fuzz_target.key_for(method, path)

    @given(case=_cases(operation), aim_at_seeded_data=st.booleans())
    @settings(
        max_examples=MAX_EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_what_it_documents(case: Any, aim_at_seeded_data: bool) -> None:
        # Given a generated request, its path ids perhaps replaced by seeded ones
        if aim_at_seeded_data and case.path_parameters:
            case.path_parameters = {
                name: fuzz_target.path_ids.get(name, value)
                for name, value in case.path_parameters.items()
            }

        # When it is sent with the key its route takes,
        # Then it is no server error, and its status, media type and body are documented
        case.call_and_validate(
            base_url=fuzz_target.base_url,
            headers={"Authorization": f"Bearer {key}"},
            checks=CHECKS,
            timeout=30,
        )

    answers_what_it_documents()

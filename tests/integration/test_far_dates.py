"""Dates and instants far from now (found by fuzzing, tests/e2e/test_fuzz_api.py) are
refused with a 422 naming the parameter; none of them reaches a computation that
overflows (a 500) or a key that does not sort (a 503 from DynamoDB)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.support.api import Api

FAR_INSTANTS = [
    "0001-01-01T00:00:00+05:00",
    "0241-10-20T22:04:58-17:41",
    "9999-12-31T23:59:59-05:00",
]
FAR_DAYS = ["0001-01-01", "0241-01-01", "9999-12-31"]
INSTANT_QUERIES = [
    "/v1/audit?{name}={value}",
    "/v1/audit/verify?{name}={value}",
    "/v1/audit/alerts?{name}={value}",
    "/v1/customers/{customer_id}/interactions?{name}={value}",
]
DAY_QUERIES = [
    "/v1/analytics/summary?{name}={value}",
    "/v1/analytics/cohorts?{name}={value}",
    "/v1/analytics/timeseries?metric=revenue&{name}={value}",
]


def _field_names(answer_body: dict[str, object]) -> list[str]:
    return [str(issue["field"]) for issue in answer_body["errors"]]  # type: ignore[index,attr-defined]


@pytest.mark.parametrize("value", FAR_INSTANTS)
@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("template", INSTANT_QUERIES)
def test_far_instants_in_a_query_are_refused(
    tenant_a: Api, template: str, name: str, value: str
) -> None:
    # Given a customer to aim the timeline at
    customer = tenant_a.create_customer(name="Ann Lee")

    # When a window's end is far from now
    path = template.format(customer_id=customer["id"], name=name, value=quote(value))
    answer = tenant_a.get(path)

    # Then it is a 422 naming that parameter
    assert _field_names(answer.problem(422)) == [name]


@pytest.mark.parametrize("value", FAR_DAYS)
@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("template", DAY_QUERIES)
def test_far_days_in_an_analytics_query_are_refused(
    tenant_a: Api, template: str, name: str, value: str
) -> None:
    # When a period's first or last day is far from now
    answer = tenant_a.get(template.format(name=name, value=value))

    # Then it is a 422 naming that parameter
    assert _field_names(answer.problem(422)) == [name]


def test_a_far_usage_day_is_refused(platform: Api, tenant_a: Api) -> None:
    answer = platform.get(
        f"/v1/admin/tenants/{tenant_a.tenant_id}/usage?from=0001-01-01&to=2026-01-01"
    )

    assert _field_names(answer.problem(422)) == ["from"]


@pytest.mark.parametrize("value", FAR_INSTANTS)
def test_a_far_occurred_at_records_nothing(tenant_a: Api, value: str) -> None:
    # Given a customer
    customer = tenant_a.create_customer(name="Ann Lee")

    # When a visit names a far occurred_at
    answer = tenant_a.post(
        f"/v1/customers/{customer['id']}/interactions", {"type": "visit", "occurred_at": value}
    )

    # Then it is refused and the timeline stays empty
    assert _field_names(answer.problem(422)) == ["visit.occurred_at"]
    assert tenant_a.get(f"/v1/customers/{customer['id']}/interactions").json["items"] == []


@pytest.mark.parametrize("value", FAR_INSTANTS)
def test_a_far_key_expiry_issues_no_key(tenant_a: Api, value: str) -> None:
    # Given the tenant's keys
    before = tenant_a.get("/v1/api-keys").json["items"]

    # When a key is asked for with a far expiry
    answer = tenant_a.post("/v1/api-keys", {"role": "staff", "expires_at": value})

    # Then it is refused and no key was issued
    assert _field_names(answer.problem(422)) == ["expires_at"]
    assert tenant_a.get("/v1/api-keys").json["items"] == before


def test_an_audit_window_starting_after_now_is_refused(tenant_a: Api) -> None:
    answer = tenant_a.get("/v1/audit?from=" + quote("2999-01-01T00:00:00+00:00"))

    problem = answer.problem(422)
    assert "must not be before `from`" in problem["errors"][0]["message"]


def test_a_timeline_window_ending_before_it_starts_is_refused(tenant_a: Api) -> None:
    customer = tenant_a.create_customer(name="Ann Lee")
    window = "from=" + quote("2026-02-01T00:00:00Z") + "&to=" + quote("2026-01-01T00:00:00Z")

    answer = tenant_a.get(f"/v1/customers/{customer['id']}/interactions?{window}")

    problem = answer.problem(422)
    assert "must not be before `from`" in problem["errors"][0]["message"]

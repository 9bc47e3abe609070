"""Poison values over real HTTP, against DynamoDB Local (which refuses out-of-range numbers
itself): refused by path before any write, and a stored NaN rule does not stop the stream."""

from __future__ import annotations

from devtools.stage import stage_environment
from devtools.stream_runner import read_failures, wait_until_drained
from tests.e2e.conftest import LocalStack, wait_for_backfill
from tests.support.api import Answer, Api


def _send(api: Api, method: str, path: str, body: str) -> Answer:
    return api.request(
        method, path, raw=body.encode(), headers={"Content-Type": "application/json"}
    )


def test_numbers_dynamodb_local_would_refuse_are_422_by_path_and_nothing_is_written(
    stack: LocalStack, tenant_a: Api
) -> None:
    # Given bodies holding numbers DynamoDB cannot store
    customer = '{"name": "Ann", "email": "ann@example.com", "attributes": {"score": 1e200}}'
    rule = '{"name": "P", "rule": {"field": "metrics.total_spend", "op": "gt", "value": NaN}}'
    # When they are posted
    refused_customer = _send(tenant_a, "POST", "/v1/customers", customer)
    refused_rule = _send(tenant_a, "POST", "/v1/segments", rule)
    # Then each is a 422 naming the field (not a 503 from the store), and nothing exists
    assert [e["field"] for e in refused_customer.problem(422)["errors"]] == ["attributes.score"]
    assert [e["field"] for e in refused_rule.problem(422)["errors"]] == ["rule.value"]
    assert tenant_a.get("/v1/customers?email=ann@example.com").json["items"] == []
    custom = [s for s in tenant_a.get("/v1/segments").json["items"] if s["kind"] == "custom"]
    assert custom == []


def test_a_rule_stored_with_nan_does_not_stop_the_tenants_stream(
    stack: LocalStack, tenant_a: Api
) -> None:

    # Given a healthy segment and one whose rule is then stored with NaN, directly
    environment = stage_environment("local")
    healthy = tenant_a.post(
        "/v1/segments", {"name": "Anns", "rule": {"field": "name", "op": "eq", "value": "Ann"}}
    ).json["id"]
    broken = tenant_a.post(
        "/v1/segments",
        {"name": "Spenders", "rule": {"field": "metrics.total_spend", "op": "gt", "value": 1}},
    ).json["id"]
    # (after its back-fill, which would otherwise save the rule it read over the poison)
    wait_for_backfill(tenant_a, broken)
    stack.dynamodb_client().update_item(
        TableName=environment["DATA_TABLE"],
        Key={"pk": {"S": f"T#{tenant_a.tenant_id}#SEGDEFS"}, "sk": {"S": broken}},
        UpdateExpression="SET #rule = :rule",
        ExpressionAttributeNames={"#rule": "rule"},
        ExpressionAttributeValues={
            ":rule": {"S": '{"field":"metrics.total_spend","op":"gt","value":NaN}'}
        },
    )
    # When a customer is created and bought something, and the stream is drained
    ann = tenant_a.create_customer(name="Ann")["id"]
    bought = tenant_a.post(
        f"/v1/customers/{ann}/interactions",
        {"type": "purchase", "amount": "20", "currency": "EUR", "order_id": "nan-1"},
    )
    assert bought.status == 201, bought.text
    wait_until_drained(stack.local_dir)
    # Then her metrics and the healthy segment are current, and none of her records failed
    segments = set(tenant_a.get(f"/v1/customers/{ann}/segments").json["segments"])
    assert healthy in segments and broken not in segments
    assert tenant_a.get(f"/v1/customers/{ann}").json["metrics"]["purchase_count"] == 1
    assert [f for f in read_failures(stack.local_dir) if ann in str(f["keys"])] == []

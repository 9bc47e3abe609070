"""Poison values (issue 13, items 3 and 7): numbers DynamoDB cannot store are refused by
path before anything is written, and a stored rule or record that cannot be evaluated
fails no one but itself in the data stream."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from chalice.test import Client

from chalicelib.api.access import ACCESS
from chalicelib.api.routes import load_all_views
from chalicelib.api.routing import OPERATIONS
from chalicelib.dal import keys
from chalicelib.dal import segments as repository
from chalicelib.dal.connection import transaction_connection
from chalicelib.dal.models import CustomerItem
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import InvalidValue
from chalicelib.domain.tenancy import Role, TenantId, tenant_id
from chalicelib.streams.data_table import _service_refresh, process_batch
from tests.support.api import Answer, Api
from tests.support.streams import StreamEventBuilder

FORTY_DIGITS = 1234567890123456789012345678901234567890
HEALTHY_RULE = {"field": "name", "op": "eq", "value": "Ann"}
SCORE_RULE = {"field": "attributes.score", "op": "gt", "value": 5}


def _owner(tenant: Api) -> TenantId:
    return tenant_id(str(tenant.tenant_id))


def _send(api: Api, method: str, path: str, body: str) -> Answer:
    """Send `body` as written: json.dumps would not write every literal these tests need."""
    return api.request(
        method, path, raw=body.encode(), headers={"Content-Type": "application/json"}
    )


@pytest.mark.parametrize(
    "literal",
    ["NaN", "Infinity", "-Infinity", "1e400", "1e200", "1e-200", str(FORTY_DIGITS)],
)
def test_a_segment_rule_with_an_unstorable_number_is_refused_by_path(
    tenant_a: Api, literal: str
) -> None:
    # Given a rule whose value DynamoDB cannot store
    body = '{"name": "Poison", "rule": {"field": "metrics.total_spend", "op": "gt", "value": %s}}'
    # When it is posted
    answer = _send(tenant_a, "POST", "/v1/segments", body % literal)
    # Then it is a 422 naming the value's path, and no segment was created
    problem = answer.problem(422)
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("rule.value", "invalid_number")
    ]
    assert literal not in answer.text
    assert repository.list_definitions(_owner(tenant_a)) == []


@pytest.mark.parametrize("literal", ["NaN", "-Infinity", "1e200", "1e-200", str(FORTY_DIGITS)])
def test_a_customer_attribute_with_an_unstorable_number_is_refused_and_nothing_written(
    tenant_a: Api, literal: str
) -> None:
    # Given a new customer whose attribute DynamoDB cannot store
    body = '{"name": "Ann", "email": "ann@example.com", "attributes": {"score": %s}}'
    # When it is posted
    answer = _send(tenant_a, "POST", "/v1/customers", body % literal)
    # Then the attribute is named and no customer (nor its email look-up) exists
    problem = answer.problem(422)
    assert [e["field"] for e in problem["errors"]] == ["attributes.score"]
    assert tenant_a.get("/v1/customers").json["items"] == []
    assert tenant_a.get("/v1/customers?email=ann@example.com").json["items"] == []


def test_an_unstorable_number_in_a_batch_item_names_the_item(tenant_a: Api) -> None:
    # Given a batch whose one item holds Infinity in its attributes
    customer = tenant_a.create_customer(name="Ann")["id"]
    item = '{"customer_id": "' + customer + '", "type": "visit", "attributes": {"n": Infinity}}'
    body = '{"items": [' + item + "]}"
    # When it is posted
    answer = _send(tenant_a, "POST", "/v1/interactions:batch", body)
    # Then the item's attribute is named and nothing was recorded
    problem = answer.problem(422)
    assert [e["field"] for e in problem["errors"]] == ["items.0.attributes.n"]
    timeline = tenant_a.get(f"/v1/customers/{customer}/interactions").json
    assert timeline["items"] == []


def test_a_patch_with_an_unstorable_number_leaves_the_customer_as_it_was(tenant_a: Api) -> None:
    # Given a customer with a finite score
    customer = tenant_a.create_customer(name="Ann", attributes={"score": 3})
    # When a patch sets the score to a number out of DynamoDB's range
    answer = _send(
        tenant_a, "PATCH", f"/v1/customers/{customer['id']}", '{"attributes": {"score": 1e200}}'
    )
    # Then it is refused and the stored score is unchanged
    assert [e["field"] for e in answer.problem(422)["errors"]] == ["attributes.score"]
    assert tenant_a.get(f"/v1/customers/{customer['id']}").json["attributes"] == {"score": 3}


def test_every_route_with_a_body_refuses_non_finite_numbers_before_anything_else(
    tenant_a: Api, platform: Api
) -> None:
    # Given every operation that reads a body
    load_all_views()
    with_bodies = [op for op in OPERATIONS if op.body is not None]
    assert len(with_bodies) >= 15
    app_key, _ = tenant_a.create_key("app")
    callers = {Role.PLATFORM_ADMIN: platform, Role.ADMIN: tenant_a, Role.APP: app_key}
    for operation in with_bodies:
        allowed = ACCESS[(operation.method, operation.path)].roles
        caller = next(callers[role] for role in callers if role in allowed)
        path = operation.path.replace("{", "x_").replace("}", "")
        # When each is sent a body holding NaN somewhere
        answer = caller.request(
            operation.method,
            path,
            raw=b'{"probe": [1, {"deep": NaN}]}',
            headers={"Content-Type": "application/json", "If-Match": '"1"'},
        )
        # Then each answers 422 naming where the NaN sits
        problem = answer.problem(422)
        assert [e["field"] for e in problem["errors"]] == ["probe.1.deep"], operation.path


# The data stream: a broken rule, a broken customer, healthy neighbours.


NAN_RULE = '{"field":"metrics.total_spend","op":"gt","value":NaN}'


def _poison_rule(
    environment: dict[str, str], tenant: TenantId, segment_id: str, text: str = NAN_RULE
) -> None:
    """Store a rule directly: by default one holding NaN, as could be stored before the fix."""
    boto3.client("dynamodb", region_name=environment["AWS_DEFAULT_REGION"]).update_item(
        TableName=environment["DATA_TABLE"],
        Key={"pk": {"S": keys.segment_definitions_pk(tenant)}, "sk": {"S": segment_id}},
        UpdateExpression="SET #rule = :rule",
        ExpressionAttributeNames={"#rule": "rule"},
        ExpressionAttributeValues={":rule": {"S": text}},
    )


def _poison_customer(environment: dict[str, str], tenant: TenantId, customer_id: str) -> None:
    """Store a NaN attribute directly, as one could be stored before the fix."""
    boto3.client("dynamodb", region_name=environment["AWS_DEFAULT_REGION"]).update_item(
        TableName=environment["DATA_TABLE"],
        Key={"pk": {"S": keys.customer_pk(tenant, customer_id)}, "sk": {"S": keys.PROFILE_SK}},
        UpdateExpression="SET #attributes.#score = :nan",
        ExpressionAttributeNames={"#attributes": "attributes", "#score": "score"},
        ExpressionAttributeValues={":nan": {"N": "NaN"}},
    )


def _profile_record(builder: StreamEventBuilder, tenant: TenantId, customer_id: str) -> None:
    builder.modify(
        {"pk": keys.customer_pk(tenant, customer_id), "sk": keys.PROFILE_SK, "entity": "customer"},
        {"pk": keys.customer_pk(tenant, customer_id), "sk": keys.PROFILE_SK, "entity": "customer"},
    )


def _segment(tenant: Api, name: str, rule: dict[str, Any]) -> str:
    answer = tenant.post("/v1/segments", {"name": name, "rule": rule})
    assert answer.status == 201, answer.text
    return str(answer.json["id"])


@pytest.mark.parametrize("stored_rule", [NAN_RULE, "{not json", "[1, 2]"])
def test_a_broken_rule_and_a_broken_customer_fail_no_one_else_in_the_batch(
    tenant_a: Api, tenant_b: Api, environment: dict[str, str], stored_rule: str
) -> None:
    # Given tenant A with a healthy rule, a score rule and one stored broken (NaN, not JSON),
    a, b = _owner(tenant_a), _owner(tenant_b)
    healthy = _segment(tenant_a, "Anns", HEALTHY_RULE)
    broken = _segment(
        tenant_a, "Spenders", {"field": "metrics.total_spend", "op": "gt", "value": 1}
    )
    scored = _segment(tenant_a, "Scored", SCORE_RULE)
    _poison_rule(environment, a, broken, stored_rule)
    # and customers Ann (healthy) and Sick (a NaN score stored), and tenant B's Bob
    ann = tenant_a.create_customer(name="Ann", attributes={"score": 9})["id"]
    sick = tenant_a.create_customer(name="Sick", attributes={"score": 1})["id"]
    _poison_customer(environment, a, sick)
    bob = tenant_b.create_customer(name="Bob")["id"]
    # and one batch holding records of all three, Sick's twice
    builder = StreamEventBuilder()
    _profile_record(builder, a, sick)
    _profile_record(builder, a, ann)
    _profile_record(builder, b, bob)
    _profile_record(builder, a, sick)
    # When the data stream's handler processes it with the real refresh
    answer = process_batch(builder.build(), None, _service_refresh(utc_now().date()))
    # Then only Sick's records failed
    numbers = builder.sequence_numbers()
    assert answer == {
        "batchItemFailures": [{"itemIdentifier": numbers[0]}, {"itemIdentifier": numbers[3]}]
    }
    # and Ann's memberships were refreshed by the healthy rules (the broken one is skipped)
    ann_state = repository.get_state(a, ann)
    assert ann_state is not None
    assert {healthy, scored} <= ann_state.segments
    assert broken not in ann_state.segments
    # and tenant B's customer was refreshed, and Sick has no state yet
    bob_state = repository.get_state(b, bob)
    assert bob_state is not None and "lifecycle:prospect" in bob_state.segments
    assert repository.get_state(a, sick) is None


def test_a_broken_rule_keeps_its_members_and_other_segments_can_still_be_written(
    tenant_a: Api, environment: dict[str, str]
) -> None:
    # Given Ann, a member of a segment whose stored rule is then poisoned
    a = _owner(tenant_a)
    ann = tenant_a.create_customer(name="Ann")["id"]
    broken = _segment(tenant_a, "Anns", HEALTHY_RULE)
    builder = StreamEventBuilder()
    _profile_record(builder, a, ann)
    refresh = _service_refresh(utc_now().date())
    assert process_batch(builder.build(), None, refresh) == {"batchItemFailures": []}
    assert broken in (repository.get_state(a, ann) or pytest.fail()).segments
    _poison_rule(environment, a, broken)
    # When Ann changes and the stream evaluates her again
    assert tenant_a.patch(f"/v1/customers/{ann}", {"tags": ["vip"]}).status == 200
    answer = process_batch(builder.build(), None, _service_refresh(utc_now().date()))
    # Then nothing failed and Ann stays in the broken segment (no exit on a broken rule)
    assert answer == {"batchItemFailures": []}
    assert broken in (repository.get_state(a, ann) or pytest.fail()).segments
    # and the tenant can still create a segment, even one referring to the broken one
    referring = {"field": "segments", "op": "contains", "value": broken}
    assert tenant_a.post("/v1/segments", {"name": "Ref", "rule": referring}).status == 201


# The backstop: DynamoDB's own ValidationException.


REFUSALS: dict[str, dict[str, Any]] = {
    "validation-exception": {
        "Error": {
            "Code": "ValidationException",
            "Message": "Number overflow. Attempting to store a number with magnitude "
            "larger than supported range",
        },
    },
    "cancelled-for-validation": {
        "Error": {
            "Code": "TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons",
        },
        "CancellationReasons": [
            {"Code": "None"},
            {"Code": "ValidationError", "Message": "Item size has exceeded the maximum"},
        ],
    },
}


@contextmanager
def refusing_transactions(refusal: dict[str, Any]) -> Iterator[None]:
    """DynamoDB answering every TransactWriteItems with `refusal` (a 400), while every other
    call of the shared client goes through (a Stubber would have to answer them all)."""
    client = transaction_connection().client

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        answer = AWSResponse("https://dynamodb.local", 400, {}, None)  # type: ignore[arg-type]
        return answer, {**refusal, "ResponseMetadata": {"HTTPStatusCode": 400}}

    event = "before-call.dynamodb.TransactWriteItems"
    client.meta.events.register(event, refuse, unique_id="refusing-transactions")
    try:
        yield
    finally:
        client.meta.events.unregister(event, unique_id="refusing-transactions")


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_value_dynamodb_refuses_is_a_422_naming_the_attribute_not_a_503(
    client: Client, tenant_a: Api, refusal: str
) -> None:
    # Given DynamoDB refusing the next transaction as invalid (either way it can say so)
    customer = tenant_a.create_customer(name="Ann", attributes={"score": 3})
    with refusing_transactions(REFUSALS[refusal]):
        # When a change of the profile reaches it
        answer = tenant_a.patch(f"/v1/customers/{customer['id']}", {"attributes": {"score": 4}})
    # Then the answer is 422 invalid-value, not 503, and the profile is unchanged
    problem = answer.problem(422)
    assert problem["type"].endswith(":invalid-value")
    assert tenant_a.get(f"/v1/customers/{customer['id']}").json["attributes"] == {"score": 3}


def test_a_refused_item_is_invalid_value_with_the_attribute(tenant_a: Api) -> None:
    # Given a stored customer item given a number out of DynamoDB's range
    customer = tenant_a.create_customer(name="Ann", attributes={"score": 3})
    item = CustomerItem.get(keys.customer_pk(_owner(tenant_a), customer["id"]), keys.PROFILE_SK)
    item.custom_attributes = {"score": 1e300}
    with Stubber(CustomerItem._get_connection().connection.client) as stubber:
        stubber.add_client_error(
            "put_item", service_error_code="ValidationException", http_status_code=400
        )
        # When DynamoDB refuses it
        with pytest.raises(InvalidValue) as refused:
            item.save()
    # Then the domain error names the attribute and does not quote the value
    assert refused.value.field == "attributes.score"
    assert "300" not in refused.value.detail

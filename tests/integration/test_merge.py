"""Customer merge through the API (moto): survivorship, the move of history and points,
the merged source's answers, every refusal, concurrent writes and resuming (issue 16)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.dal import keys
from chalicelib.dal import merge as merge_repository
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import ConcurrentModification
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.services import merge as merge_service
from tests.support.api import Answer, Api


def _tenant(api: Api) -> TenantId:
    assert api.tenant_id is not None
    return tenant_id(api.tenant_id)


def _buy(api: Api, customer: str, amount: str, order_id: str) -> Answer:
    return api.post(
        f"/v1/customers/{customer}/interactions",
        {"type": "purchase", "amount": amount, "currency": "EUR", "order_id": order_id},
    )


def _bought(api: Api, customer: str, amount: str, order_id: str) -> None:
    answer = _buy(api, customer, amount, order_id)
    assert answer.status == 201, answer.text


def _etag(api: Api, customer: str) -> str:
    answer = api.get(f"/v1/customers/{customer}")
    assert answer.status == 200, answer.text
    return answer.headers["etag"]


def _merge(api: Api, survivor: str, sources: list[str], etag: str | None = None) -> Answer:
    headers = {"If-Match": etag if etag is not None else _etag(api, survivor)}
    return api.post(f"/v1/customers/{survivor}/merge", {"from": sources}, headers=headers)


def _points(api: Api, customer: str) -> dict[str, Any]:
    answer = api.get(f"/v1/customers/{customer}/points")
    assert answer.status == 200, answer.text
    return dict(answer.json)


def _interaction_ids(api: Api, customer: str) -> set[str]:
    answer = api.get(f"/v1/customers/{customer}/interactions?limit=100")
    assert answer.status == 200, answer.text
    return {item["id"] for item in answer.json["items"]}


def _ledger(api: Api, customer: str) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/customers/{customer}/points/transactions?limit=100")
    assert answer.status == 200, answer.text
    return list(answer.json["items"])


def test_a_merge_moves_history_points_and_unique_values_to_the_survivor(tenant_a: Api) -> None:
    # Given a survivor known by email and a source known by phone, each with purchases
    survivor = tenant_a.create_customer(
        name="Ann Lee", email="ann@example.com", tags=["vip"], consent={"email_marketing": True}
    )["id"]
    source = tenant_a.create_customer(
        name="A. Lee",
        phone="+49301234567",
        tags=["pos"],
        attributes={"store": "berlin"},
        consent={"email_marketing": False, "sms_marketing": True},
    )["id"]
    _bought(tenant_a, survivor, "100", "o-1")
    _bought(tenant_a, source, "40", "o-2")
    _bought(tenant_a, source, "60", "o-3")
    before = {c: _interaction_ids(tenant_a, c) for c in (survivor, source)}
    balances = _points(tenant_a, survivor)["balance"] + _points(tenant_a, source)["balance"]

    # When the source is merged into the survivor
    answer = _merge(tenant_a, survivor, [source])

    # Then the merge is done and names both customers
    assert answer.status == 200, answer.text
    record = answer.json
    assert (record["state"], record["survivor_id"], record["source_ids"]) == (
        "done",
        survivor,
        [source],
    )
    assert record["items_moved"] >= 4
    # and the survivor holds every interaction and all the points, once
    assert _interaction_ids(tenant_a, survivor) == before[survivor] | before[source]
    assert _points(tenant_a, survivor)["balance"] == balances
    ledger = _ledger(tenant_a, survivor)
    assert sum(entry["points"] for entry in ledger) == balances
    assert any(entry["reason"] == f"merged from {source}" for entry in ledger)
    # and the profile follows the survivorship rule
    profile = tenant_a.get(f"/v1/customers/{survivor}").json
    assert (profile["name"], profile["email"], profile["phone"]) == (
        "Ann Lee",
        "ann@example.com",
        "+4930123456" + "7",
    )
    assert set(profile["tags"]) == {"vip", "pos"}
    assert profile["attributes"] == {"store": "berlin"}
    assert profile["consent"] == {"email_marketing": False, "sms_marketing": False}
    # and the source's phone now finds the survivor
    found = tenant_a.get("/v1/customers?phone=%2B4930" + "1234567").json["items"]
    assert [c["id"] for c in found] == [survivor]


def test_the_merged_source_answers_reads_with_301_and_writes_with_409(tenant_a: Api) -> None:
    # Given a source merged into a survivor
    survivor = tenant_a.create_customer(name="Ann", phone="+49301234568")["id"]
    source = tenant_a.create_customer(
        name="Annie", email="annie@example.com", phone="+49301234569"
    )["id"]
    assert _merge(tenant_a, survivor, [source]).status == 200

    # When the source is read, changed, or sent a purchase
    read = tenant_a.get(f"/v1/customers/{source}")
    change = tenant_a.patch(f"/v1/customers/{source}", {"name": "X"})
    purchase = _buy(tenant_a, source, "10", "o-late")

    # Then a read is redirected to the survivor and writes are refused, naming the merge
    body = read.problem(301)
    assert read.headers["location"] == f"/v1/customers/{survivor}"
    assert body["merged_into"] == survivor
    for refused in (change, purchase):
        assert refused.problem(409)["merged_into"] == survivor
    # and the source no longer lists, and its email (taken by the survivor) finds the survivor
    listed = tenant_a.get("/v1/customers?limit=100").json["items"]
    assert [c["id"] for c in listed] == [survivor]
    found = tenant_a.get("/v1/customers?email=annie@example.com").json["items"]
    assert [c["id"] for c in found] == [survivor]
    # and its own phone (the survivor kept its own) is released for anyone
    assert tenant_a.get("/v1/customers?phone=%2B49301234569").json["items"] == []
    assert tenant_a.create_customer(name="New", phone="+49301234569")["id"]


def test_a_stale_if_match_is_412_and_changes_nothing(tenant_a: Api) -> None:
    # Given a survivor changed after its ETag was read
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Annie")["id"]
    stale = _etag(tenant_a, survivor)
    assert tenant_a.patch(f"/v1/customers/{survivor}", {"name": "Ann L"}).status == 200

    # When the merge names the stale ETag
    answer = _merge(tenant_a, survivor, [source], etag=stale)

    # Then it is refused and the source is untouched
    answer.problem(412)
    assert tenant_a.get(f"/v1/customers/{source}").json["name"] == "Annie"


def test_a_merge_without_if_match_is_428(tenant_a: Api) -> None:
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Annie")["id"]

    answer = tenant_a.post(f"/v1/customers/{survivor}/merge", {"from": [source]})

    answer.problem(428)
    assert tenant_a.get(f"/v1/customers/{source}").status == 200


def test_merging_a_customer_into_itself_is_422(tenant_a: Api) -> None:
    survivor = tenant_a.create_customer(name="Ann")["id"]

    answer = _merge(tenant_a, survivor, [survivor])

    body = answer.problem(422)
    assert body["errors"][0]["field"] == "from"
    assert tenant_a.get(f"/v1/customers/{survivor}").status == 200


@pytest.mark.parametrize("body", [{}, {"from": []}, {"from": ["nope"]}, {"sources": []}])
def test_a_malformed_body_is_422(tenant_a: Api, body: dict[str, Any]) -> None:
    survivor = tenant_a.create_customer(name="Ann")["id"]

    answer = tenant_a.post(
        f"/v1/customers/{survivor}/merge", body, headers={"If-Match": _etag(tenant_a, survivor)}
    )

    answer.problem(422)


def test_unknown_and_other_tenants_customers_are_404(tenant_a: Api, tenant_b: Api) -> None:
    # Given a customer of each tenant
    survivor = tenant_a.create_customer(name="Ann")["id"]
    foreign = tenant_b.create_customer(name="Bob")["id"]
    unknown = "cus_" + "0" * 26

    # When tenant A names the other tenant's customer or an unknown one, either way round
    answers = [
        _merge(tenant_a, survivor, [foreign]),
        _merge(tenant_a, survivor, [unknown]),
        tenant_a.post(
            f"/v1/customers/{foreign}/merge", {"from": [survivor]}, headers={"If-Match": '"1"'}
        ),
    ]

    # Then each is 404 and nothing changed in either tenant
    for answer in answers:
        answer.problem(404)
    assert tenant_b.get(f"/v1/customers/{foreign}").json["name"] == "Bob"
    assert tenant_a.get(f"/v1/customers/{survivor}").json["name"] == "Ann"


def test_a_source_already_merged_is_409(tenant_a: Api) -> None:
    # Given a source merged into one survivor
    first = tenant_a.create_customer(name="Ann")["id"]
    second = tenant_a.create_customer(name="Bea")["id"]
    source = tenant_a.create_customer(name="Cy")["id"]
    assert _merge(tenant_a, first, [source]).status == 200

    # When it is merged into another one
    answer = _merge(tenant_a, second, [source])

    # Then that is refused naming the first merge
    body = answer.problem(409)
    assert body["type"].endswith("merge-conflict")
    assert first in body["detail"]


def test_a_source_being_erased_is_not_merged(
    tenant_a: Api, environment: dict[str, str], dynamodb: Any
) -> None:
    # Given a source whose erasure began after its profile was read (its erasure record
    # already written)
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Bea")["id"]
    _bought(tenant_a, source, "10", "o-1")
    dynamodb.put_item(
        TableName=environment["DATA_TABLE"],
        Item={
            "pk": {"S": keys.customer_pk(_tenant(tenant_a), source)},
            "sk": {"S": keys.ERASURE_SK},
            "entity": {"S": "erasure"},
        },
    )

    # When it is merged
    answer = _merge(tenant_a, survivor, [source])

    # Then that is refused naming the erasure, and nothing moved
    body = answer.problem(409)
    assert body["type"].endswith("merge-conflict")
    assert "erasure" in body["detail"]
    assert len(_interaction_ids(tenant_a, source)) == 1
    assert _interaction_ids(tenant_a, survivor) == set()


def test_readonly_and_customer_tokens_may_not_merge(
    tenant_a: Api, key_with_role: Any, customer_token: Any
) -> None:
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Bea")["id"]
    etag = _etag(tenant_a, survivor)

    for caller in (key_with_role(tenant_a, "readonly"), customer_token(tenant_a, survivor)):
        answer = caller.post(
            f"/v1/customers/{survivor}/merge", {"from": [source]}, headers={"If-Match": etag}
        )
        answer.problem(403)
    assert tenant_a.get(f"/v1/customers/{source}").status == 200


def test_a_merge_that_stopped_part_way_resumes_without_counting_twice(
    tenant_a: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a source with more items than one step moves, and a crash after two steps
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Bea")["id"]
    _bought(tenant_a, survivor, "10", "o-s")
    for number in range(40):
        _bought(tenant_a, source, "5", f"o-{number}")
    balances = _points(tenant_a, survivor)["balance"] + _points(tenant_a, source)["balance"]
    expected = _interaction_ids(tenant_a, survivor) | _interaction_ids(tenant_a, source)
    real_step = merge_repository.move_step
    steps: list[int] = []

    def crashing_step(*args: Any) -> int:
        if len(steps) == 2:
            raise ConcurrentModification("simulated crash")
        steps.append(real_step(*args))
        return steps[-1]

    monkeypatch.setattr(merge_repository, "move_step", crashing_step)
    monkeypatch.setattr(merge_service, "ATTEMPTS", 1)
    etag = _etag(tenant_a, survivor)
    crashed = _merge(tenant_a, survivor, [source], etag=etag)
    assert crashed.status == 409, crashed.text
    monkeypatch.setattr(merge_repository, "move_step", real_step)

    # When the same request is sent again
    answer = _merge(tenant_a, survivor, [source], etag=etag)

    # Then the merge resumes and finishes with every item and point exactly once
    assert answer.status == 200, answer.text
    assert answer.json["state"] == "done"
    assert _interaction_ids(tenant_a, survivor) == expected
    assert _points(tenant_a, survivor)["balance"] == balances
    # and repeating it once more answers the finished merge
    again = _merge(tenant_a, survivor, [source], etag=etag)
    assert again.status == 200 and again.json["id"] == answer.json["id"]


def test_purchases_on_both_profiles_during_a_merge_reconcile_exactly(
    tenant_a: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two customers with purchases, and purchases arriving on both during the move
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Bea")["id"]
    for number in range(3):
        _bought(tenant_a, survivor, "20", f"s-{number}")
        _bought(tenant_a, source, "30", f"b-{number}")
    real_step = merge_repository.move_step
    during: list[Answer] = []

    def step_with_purchases(*args: Any) -> int:
        number = len(during)
        during.append(_buy(tenant_a, survivor, "7", f"during-s-{number}"))
        during.append(_buy(tenant_a, source, "9", f"during-b-{number}"))
        return real_step(*args)

    monkeypatch.setattr(merge_repository, "move_step", step_with_purchases)
    before = _points(tenant_a, survivor)["balance"] + _points(tenant_a, source)["balance"]

    # When the source is merged
    answer = _merge(tenant_a, survivor, [source])

    # Then purchases on the survivor all count, those on the frozen source are refused,
    # and the survivor's balance is exactly what was there plus what was accepted
    assert answer.status == 200, answer.text
    accepted = [a for a in during if a.status == 201]
    refused = [a for a in during if a.status != 201]
    assert accepted and refused
    for refusal in refused:
        assert refusal.problem(409)["merged_into"] == survivor
    earned = sum(a.json["points"] for a in accepted)
    assert _points(tenant_a, survivor)["balance"] == before + earned
    assert sum(entry["points"] for entry in _ledger(tenant_a, survivor)) == before + earned


def test_the_merge_is_audited_naming_both_customers(tenant_a: Api) -> None:
    # Given a merge
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Bea")["id"]
    merge = _merge(tenant_a, survivor, [source]).json

    # When the merge record is read back
    stored = merge_repository.get_merge(_tenant(tenant_a), survivor, merge["id"])

    # Then it names the survivor, the source and who merged
    assert stored is not None
    assert (stored.survivor_id, stored.source_ids) == (survivor, (source,))
    assert stored.started_by


def _unmerge(api: Api, survivor: str, source: str) -> Answer:
    return api.post(f"/v1/customers/{survivor}/unmerge", {"source": source})


def test_unmerge_restores_the_source_its_claims_history_and_points(tenant_a: Api) -> None:
    # Given a merged source that brought purchases, a phone and points
    survivor = tenant_a.create_customer(name="Ann", email="ann@example.com")["id"]
    source = tenant_a.create_customer(name="Bea", phone="+49301234570", tags=["pos"])["id"]
    _bought(tenant_a, survivor, "100", "o-s")
    _bought(tenant_a, source, "40", "o-b1")
    _bought(tenant_a, source, "60", "o-b2")
    own = {
        c: (_interaction_ids(tenant_a, c), _points(tenant_a, c)["balance"])
        for c in (survivor, source)
    }
    assert _merge(tenant_a, survivor, [source]).status == 200
    _bought(tenant_a, survivor, "10", "o-after")  # written to the survivor since the merge

    # When it is unmerged
    answer = _unmerge(tenant_a, survivor, source)

    # Then the source is back with its profile, phone, interactions and points
    assert answer.status == 200, answer.text
    assert (answer.json["id"], answer.json["name"]) == (source, "Bea")
    assert tenant_a.get(f"/v1/customers/{source}").json["phone"] == "+49301234570"
    assert _interaction_ids(tenant_a, source) == own[source][0]
    assert _points(tenant_a, source)["balance"] == own[source][1]
    found = tenant_a.get("/v1/customers?phone=%2B49301234570").json["items"]
    assert [c["id"] for c in found] == [source]
    # and the survivor keeps its own history and what was written to it since
    survivor_body = tenant_a.get(f"/v1/customers/{survivor}").json
    assert survivor_body["phone"] is None
    assert own[survivor][0] < _interaction_ids(tenant_a, survivor)
    assert not _interaction_ids(tenant_a, survivor) & own[source][0]
    assert _points(tenant_a, survivor)["balance"] == own[survivor][1] + 10
    assert sum(e["points"] for e in _ledger(tenant_a, survivor)) == own[survivor][1] + 10
    assert sum(e["points"] for e in _ledger(tenant_a, source)) == own[source][1]


def test_unmerge_after_the_survivor_spent_the_points_is_409(tenant_a: Api) -> None:
    # Given a merge after which the survivor redeemed more than it held itself
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Bea")["id"]
    _bought(tenant_a, source, "100", "o-b")
    assert _merge(tenant_a, survivor, [source]).status == 200
    redeemed = tenant_a.post(
        f"/v1/customers/{survivor}/points/redeem", {"points": 60, "reason": "gift"}
    )
    assert redeemed.status in (200, 201), redeemed.text

    # When the source is unmerged
    answer = _unmerge(tenant_a, survivor, source)

    # Then it is refused, explaining why, and the source stays merged
    body = answer.problem(409)
    assert body["type"].endswith("unmerge-refused")
    assert "100 points" in body["detail"]
    assert tenant_a.get(f"/v1/customers/{source}").status == 301


def test_unmerge_of_a_customer_not_merged_into_this_one_is_404(tenant_a: Api) -> None:
    survivor = tenant_a.create_customer(name="Ann")["id"]
    other = tenant_a.create_customer(name="Bea")["id"]

    answer = _unmerge(tenant_a, survivor, other)

    answer.problem(404)
    assert tenant_a.get(f"/v1/customers/{other}").status == 200


def test_unmerge_after_thirty_days_is_409(tenant_a: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a merge 31 days ago
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Bea")["id"]
    assert _merge(tenant_a, survivor, [source]).status == 200
    later = utc_now() + timedelta(days=31)
    monkeypatch.setattr(merge_service, "utc_now", lambda: later)

    # When it is unmerged
    answer = _unmerge(tenant_a, survivor, source)

    # Then it is refused and the source stays merged
    body = answer.problem(409)
    assert "30 days" in body["detail"]
    assert tenant_a.get(f"/v1/customers/{source}").status == 301


def test_the_openapi_document_names_the_merge_answers(anonymous: Api) -> None:
    document = anonymous.get("/v1/openapi.json").json

    customer = document["paths"]["/v1/customers/{customer_id}"]
    merge = document["paths"]["/v1/customers/{customer_id}/merge"]["post"]["responses"]
    assert "Location" in customer["get"]["responses"]["301"]["headers"]
    assert "409" in customer["patch"]["responses"]
    assert {"200", "404", "409", "412", "422", "428"} <= set(merge)
    assert "/v1/customers/{customer_id}/unmerge" in document["paths"]


def test_a_merge_too_large_for_one_transaction_is_422_and_changes_nothing(tenant_a: Api) -> None:
    # Given four sources with twenty tags each (their listings go with them)
    survivor = tenant_a.create_customer(name="Ann")["id"]
    sources = [
        tenant_a.create_customer(name=f"S{n}", tags=[f"t{n}-{i}" for i in range(20)])["id"]
        for n in range(4)
    ]

    # When all four are merged at once
    answer = _merge(tenant_a, survivor, sources)

    # Then the merge is refused before anything is written
    assert answer.problem(422)["errors"][0]["field"] == "from"
    for source in sources:
        assert tenant_a.get(f"/v1/customers/{source}").status == 200


def test_erasing_the_survivor_erases_the_merged_sources_profiles_too(tenant_a: Api) -> None:
    # Given a source merged into a survivor (its marker keeps its profile for unmerge)
    survivor = tenant_a.create_customer(name="Ann")["id"]
    source = tenant_a.create_customer(name="Bea Secret", email="bea@example.com")["id"]
    assert _merge(tenant_a, survivor, [source]).status == 200

    # When the survivor is erased
    erased = tenant_a.delete(f"/v1/customers/{survivor}?erase=true")

    # Then the source's kept profile is gone too: it is unknown, and cannot be unmerged
    assert erased.status == 204, erased.text
    assert merge_repository.get_merged_into(_tenant(tenant_a), source) is None
    tenant_a.get(f"/v1/customers/{source}").problem(404)
    _unmerge(tenant_a, survivor, source).problem(404)


def test_another_tenants_survivor_is_404_even_without_if_match(
    tenant_a: Api, tenant_b: Api
) -> None:
    # Given a customer of tenant A
    survivor = tenant_a.create_customer(name="Ann")["id"]
    mine = tenant_b.create_customer(name="Bob")["id"]

    # When tenant B names it as the survivor, without If-Match
    answer = tenant_b.post(f"/v1/customers/{survivor}/merge", {"from": [mine]})

    # Then it is not found (no 428 revealing that it exists), and B's customer is untouched
    answer.problem(404)
    assert tenant_b.get(f"/v1/customers/{mine}").status == 200

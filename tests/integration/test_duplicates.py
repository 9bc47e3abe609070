"""Duplicate detection (issue 16) through the Chalice test client on moto, with the local
stream runner keeping candidate pairs current."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from chalicelib.dal import duplicates as repository
from chalicelib.dal import keys
from chalicelib.domain.tenancy import tenant_id
from chalicelib.services import duplicates
from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api


def _person(**fields: Any) -> dict[str, Any]:
    """A customer body: Ann Lee unless told otherwise."""
    return {"name": "Ann Lee", **fields}


def _duplicates_of(tenant: Api, customer: str, query: str = "") -> list[dict[str, Any]]:
    answer = tenant.get(f"/v1/customers/{customer}/duplicates{query}")
    assert answer.status == 200, answer.text
    return list(answer.json["items"])


def _all_pairs(tenant: Api, query: str = "") -> list[dict[str, Any]]:
    answer = tenant.get(f"/v1/duplicates{query}")
    assert answer.status == 200, answer.text
    return list(answer.json["items"])


def _twins(tenant: Api, streams: LocalStreamRunner) -> tuple[str, str]:
    """Two profiles of one person: one email written two ways, as gmail allows."""
    first = tenant.create_customer(**_person(email="ann.lee@gmail.com"))["id"]
    second = tenant.create_customer(**_person(email="AnnLee+shop@googlemail.com"))["id"]
    streams.drain()
    return first, second


def test_two_profiles_with_one_gmail_address_become_candidates(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given two profiles whose emails differ only in dots, a +tag and the gmail alias
    first, second = _twins(tenant_a, streams)

    # When each customer's candidates and the tenant's are read
    of_first = _duplicates_of(tenant_a, first)
    of_second = _duplicates_of(tenant_a, second)
    tenant_wide = _all_pairs(tenant_a)

    # Then each names the other, with the email reason and its score, once tenant-wide
    assert [(c["customer_id"], c["reasons"], c["score"]) for c in of_first] == [
        (second, ["email"], 90)
    ]
    assert [c["customer_id"] for c in of_second] == [first]
    assert of_first[0]["customer"]["email"] == "annlee+shop@googlemail.com"
    assert len(tenant_wide) == 1
    assert tenant_wide[0]["customer_ids"] == sorted([first, second])
    assert tenant_wide[0]["id"] == of_first[0]["id"] == of_second[0]["id"]
    assert tenant_wide[0]["dismissed"] is False


def test_phone_external_id_and_fuzzy_reasons_add_up(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given profiles matching by phone digits, external id, and similar name + birthday
    shop = tenant_a.create_customer(
        name="Jürgen Müller",
        phone="+49 664 1234567",
        external_id="POS-0042",
        birthday="1980-05-17",
    )["id"]
    app = tenant_a.create_customer(
        name="Juergen Mueller",
        phone="+43 664 1234567",
        external_id="pos 0042",
        birthday="1980-05-17",
    )["id"]
    other_birthday = tenant_a.create_customer(name="Jurgen Muller", birthday="1980-05-18")["id"]
    same_birthday_other_name = tenant_a.create_customer(name="Zoe Quinn", birthday="1980-05-17")[
        "id"
    ]

    # When the stream has run
    streams.drain()

    # Then only the first two are a pair, with every reason and a combined score
    (candidate,) = _duplicates_of(tenant_a, shop)
    assert candidate["customer_id"] == app
    assert candidate["reasons"] == ["external_id", "phone", "name+birthday"]
    assert candidate["score"] == 100
    assert _duplicates_of(tenant_a, other_birthday) == []
    assert _duplicates_of(tenant_a, same_birthday_other_name) == []


def test_similar_names_at_one_address_are_candidates(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given two profiles with near names and one address written differently
    first = tenant_a.create_customer(
        name="Anna Svensson",
        address={"line1": "Storgatan 1", "postal_code": "111 22", "country": "SE"},
    )["id"]
    second = tenant_a.create_customer(
        name="Svensson, Anna",
        address={"line1": "STORGATAN  1", "postal_code": "11122 ", "country": "SE"},
    )["id"]

    # When the stream has run
    streams.drain()

    # Then they are a pair for name+address
    assert [
        (c["customer_id"], c["reasons"], c["score"]) for c in _duplicates_of(tenant_a, first)
    ] == [(second, ["name+address"], 75)]


def test_a_changed_matching_field_drops_the_pair(tenant_a: Api, streams: LocalStreamRunner) -> None:
    # Given a pair
    first, second = _twins(tenant_a, streams)

    # When one profile's email changes to one that does not match
    answer = tenant_a.patch(f"/v1/customers/{second}", {"email": "someone.else@example.com"})
    assert answer.status == 200, answer.text
    streams.drain()

    # Then neither lists the other, and the tenant has no pair
    assert _duplicates_of(tenant_a, first) == []
    assert _duplicates_of(tenant_a, second) == []
    assert _all_pairs(tenant_a) == []


def test_a_deleted_profile_drops_out(tenant_a: Api, streams: LocalStreamRunner) -> None:
    # Given a pair
    first, second = _twins(tenant_a, streams)

    # When one profile is deleted
    assert tenant_a.delete(f"/v1/customers/{second}").status == 204
    streams.drain()

    # Then the survivor has no candidates and the tenant no pair
    assert _duplicates_of(tenant_a, first) == []
    assert _all_pairs(tenant_a) == []


def test_a_merged_profile_drops_out(
    tenant_a: Api, streams: LocalStreamRunner, environment: dict[str, str]
) -> None:
    # Given a pair
    first, second = _twins(tenant_a, streams)

    # When the second profile is marked merged into the first (as a merge will)
    table = boto3.resource("dynamodb", region_name=environment["AWS_DEFAULT_REGION"]).Table(
        os.environ["DATA_TABLE"]
    )
    tenant = tenant_id(str(tenant_a.tenant_id))
    table.update_item(
        Key={"pk": keys.customer_pk(tenant, second), "sk": keys.PROFILE_SK},
        UpdateExpression="SET merged_into = :survivor",
        ExpressionAttributeValues={":survivor": first},
    )
    streams.drain()

    # Then the pair is gone
    assert _duplicates_of(tenant_a, first) == []
    assert _all_pairs(tenant_a) == []


def test_redelivery_and_repeated_refreshes_write_nothing(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a pair the stream has made
    first, second = _twins(tenant_a, streams)
    tenant = tenant_id(str(tenant_a.tenant_id))

    # When both customers are refreshed again (as a redelivered record would)
    again = [duplicates.refresh_matches(tenant, customer) for customer in (first, second)]

    # Then each compared the other and wrote nothing; the pair is as it was
    assert [(r.compared, r.pairs_written) for r in again] == [
        (frozenset({second}), 0),
        (frozenset({first}), 0),
    ]
    assert [c["customer_id"] for c in _duplicates_of(tenant_a, first)] == [second]


def test_a_dismissed_pair_stays_dismissed_until_a_matching_field_changes(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a pair
    first, second = _twins(tenant_a, streams)
    pair = _all_pairs(tenant_a)[0]["id"]

    # When it is dismissed (twice), and a field matching does not read changes
    dismissed = tenant_a.post(f"/v1/duplicates/{pair}/dismiss")
    again = tenant_a.post(f"/v1/duplicates/{pair}/dismiss")
    assert tenant_a.patch(f"/v1/customers/{second}", {"tags": ["vip"]}).status == 200
    streams.drain()

    # Then it answers dismissed and is listed nowhere
    assert dismissed.status == 200, dismissed.text
    assert dismissed.json["dismissed"] is True
    assert again.json == dismissed.json
    assert _all_pairs(tenant_a) == []
    assert _duplicates_of(tenant_a, first) == []

    # When a matching field of one profile changes (a phone is added)
    assert tenant_a.patch(f"/v1/customers/{second}", {"phone": "+49 30 7654321"}).status == 200
    streams.drain()

    # Then the pair is back, no longer dismissed
    assert [p["id"] for p in _all_pairs(tenant_a)] == [pair]
    assert [c["customer_id"] for c in _duplicates_of(tenant_a, first)] == [second]


def test_listings_filter_by_score_and_page_highest_first(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given one pair by email (90) and one by name and birthday (70)
    _twins(tenant_a, streams)
    tenant_a.create_customer(name="Bob Stone", birthday="1970-01-02")
    tenant_a.create_customer(name="Bob Stone", birthday="1970-01-02")
    streams.drain()

    # When the tenant's pairs are read one at a time, and above 80
    first_page = tenant_a.get("/v1/duplicates?limit=1").json
    second_page = tenant_a.get(f"/v1/duplicates?limit=1&cursor={first_page['next_cursor']}").json
    above_80 = _all_pairs(tenant_a, "?min_score=80")

    # Then the higher score comes first, pages continue, and the filter keeps one
    assert [p["score"] for p in first_page["items"] + second_page["items"]] == [90, 70]
    assert second_page["next_cursor"] is None
    assert [p["score"] for p in above_80] == [90]


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/v1/customers/cus_01M81Y3CH4RRSFSN4Y0ZYM108V/duplicates", "GET"),
        (
            "/v1/duplicates/dup_cus_01M81Y3CH4RRSFSN4Y0ZYM108V_cus_01M81Y3D0DH84V0D728A2JRM31/dismiss",
            "POST",
        ),
        ("/v1/duplicates/not-a-pair/dismiss", "POST"),
        (
            "/v1/duplicates/dup_cus_01M81Y3D0DH84V0D728A2JRM31_cus_01M81Y3CH4RRSFSN4Y0ZYM108V/dismiss",
            "POST",
        ),
    ],
)
def test_unknown_customers_and_pairs_are_404(tenant_a: Api, path: str, method: str) -> None:
    # When a customer or pair the tenant does not have is named
    answer = tenant_a.request(method, path)
    # Then the answer is a 404 problem
    assert answer.problem(404)["type"].endswith("not-found")


def test_another_tenants_pair_is_404(
    tenant_a: Api, tenant_b: Api, streams: LocalStreamRunner
) -> None:
    # Given a pair of tenant A
    first, _ = _twins(tenant_a, streams)
    pair = _all_pairs(tenant_a)[0]["id"]

    # When tenant B reads A's customer's candidates or dismisses A's pair
    listed = tenant_b.get(f"/v1/customers/{first}/duplicates")
    dismissed = tenant_b.post(f"/v1/duplicates/{pair}/dismiss")

    # Then both are 404 and A's pair is still listed
    listed.problem(404)
    dismissed.problem(404)
    assert [p["id"] for p in _all_pairs(tenant_a)] == [pair]


@pytest.mark.parametrize("query", ["?min_score=101", "?min_score=-1", "?min_score=x", "?x=1"])
def test_bad_queries_are_422(tenant_a: Api, query: str) -> None:
    # When the listing gets a bad query
    answer = tenant_a.get(f"/v1/duplicates{query}")
    # Then it is a 422 problem naming the parameter
    assert answer.problem(422)["errors"]


@pytest.mark.parametrize("role", ["readonly", "app", "customer"])
def test_only_admin_and_staff_keys_see_duplicates(
    tenant_a: Api, key_with_role: Callable[[Api, str], Api], role: str
) -> None:
    # Given a key of a role that does not clean data
    caller = key_with_role(tenant_a, role)
    # When it lists the tenant's pairs
    answer = caller.get("/v1/duplicates")
    # Then it is refused
    answer.problem(403)


def test_staff_keys_list_and_dismiss(
    tenant_a: Api, key_with_role: Callable[[Api, str], Api], streams: LocalStreamRunner
) -> None:
    # Given a pair and a staff key
    _twins(tenant_a, streams)
    staff = key_with_role(tenant_a, "staff")
    # When staff lists and dismisses it
    pair = _all_pairs(staff)[0]["id"]
    answer = staff.post(f"/v1/duplicates/{pair}/dismiss")
    # Then the pair is dismissed
    assert answer.status == 200 and answer.json["dismissed"] is True
    assert _all_pairs(tenant_a) == []


def test_erasure_drops_the_customers_match_keys_and_pairs_at_once(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a pair
    first, second = _twins(tenant_a, streams)
    tenant = tenant_id(str(tenant_a.tenant_id))

    # When the second customer is erased (and before the stream sees it)
    assert tenant_a.delete(f"/v1/customers/{second}?erase=true").status == 204

    # Then it holds no match keys, and no pair names it
    assert repository.match_keys_held(tenant, second) == (frozenset(), None)
    assert _duplicates_of(tenant_a, first) == []
    assert _all_pairs(tenant_a) == []


def test_the_trail_names_both_customers_of_a_dismissed_pair(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a pair, dismissed
    first, second = _twins(tenant_a, streams)
    pair = _all_pairs(tenant_a)[0]["id"]
    assert tenant_a.post(f"/v1/duplicates/{pair}/dismiss").status == 200
    streams.drain()

    # When the trail is read for the dismissal
    entries = tenant_a.get("/v1/audit?action=dismiss_duplicate").json["items"]

    # Then the request names the pair and both customers, and the change names the pair
    assert {tuple(e["customer_ids"]) for e in entries} >= {tuple(sorted([first, second]))}
    assert all(pair in e["resource_ids"] for e in entries)
    changed = [e for e in entries if e["kind"] == "change"]
    assert [(e["resource_type"], e["fields"]) for e in changed] == [
        ("duplicate_pair", ["dismissed_by", "dismissed_fingerprint"])
    ]


def test_a_large_blocking_group_is_looked_at_only_up_to_the_cap(
    tenant_a: Api, streams: LocalStreamRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a cap of one candidate per key, and three Bob Stones born the same day
    monkeypatch.setattr(duplicates, "CANDIDATES_PER_KEY", 1)
    oldest, middle, newest = (
        tenant_a.create_customer(name="Bob Stone", birthday="1970-01-02")["id"] for _ in range(3)
    )
    streams.drain()
    tenant = tenant_id(str(tenant_a.tenant_id))

    # When the newest is refreshed again
    refreshed = duplicates.refresh_matches(tenant, newest)

    # Then it compared itself with the most recent other member only (each member found
    # the one before it when it was filed), not with the whole group
    assert refreshed.compared == {middle}
    assert [c["customer_id"] for c in _duplicates_of(tenant_a, oldest)] == [middle]

"""Feedback and NPS (issue 15) through the Chalice test client on moto, with the local
stream runner for the segment and campaign counters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from chalicelib.dal import audit as trail
from chalicelib.dal import feedback as repository
from chalicelib.domain.audit import EntryKind
from chalicelib.domain.clock import utc_now
from chalicelib.domain.feedback import answer_figures
from chalicelib.domain.tenancy import tenant_id
from chalicelib.streams.data_table import keep_customers_current
from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Answer, Api
from tests.support.streams import data_stream_records


@dataclass
class FeedbackBuilder:
    """A feedback body: only the fields set are sent."""

    fields: dict[str, Any] = field(default_factory=dict)

    def nps(self, score: int) -> FeedbackBuilder:
        return FeedbackBuilder({**self.fields, "nps": score})

    def csat(self, rating: int) -> FeedbackBuilder:
        return FeedbackBuilder({**self.fields, "csat": rating})

    def comment(self, text: str) -> FeedbackBuilder:
        return FeedbackBuilder({**self.fields, "comment": text})

    def campaign(self, campaign_id: str) -> FeedbackBuilder:
        return FeedbackBuilder({**self.fields, "campaign_id": campaign_id})

    def ticket(self, ticket_id: str) -> FeedbackBuilder:
        return FeedbackBuilder({**self.fields, "ticket_id": ticket_id})

    def build(self) -> dict[str, Any]:
        return dict(self.fields)


def a_feedback() -> FeedbackBuilder:
    return FeedbackBuilder()


def _answer(api: Api, customer: str, body: FeedbackBuilder, **kwargs: Any) -> Answer:
    return api.post(f"/v1/customers/{customer}/feedback", body.build(), **kwargs)


def _answered(api: Api, customer: str, body: FeedbackBuilder) -> dict[str, Any]:
    answer = _answer(api, customer, body)
    assert answer.status == 201, answer.text
    return dict(answer.json)


def _timeline(api: Api, customer: str) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/customers/{customer}/interactions?type=feedback")
    assert answer.status == 200, answer.text
    return list(answer.json["items"])


def _nps(api: Api, query: str = "") -> dict[str, Any]:
    answer = api.get(f"/v1/analytics/nps?{query}")
    assert answer.status == 200, answer.text
    return dict(answer.json)


def _redeliver(environment: dict[str, str]) -> dict[str, Any]:
    event = {"Records": data_stream_records(environment)}

    class Event:
        context = None

        def to_dict(self) -> dict[str, Any]:
            return event

    return dict(keep_customers_current(Event()))


def test_an_answer_is_a_feedback_interaction_on_the_timeline(tenant_a: Api) -> None:
    # Given a customer
    customer = tenant_a.create_customer(name="Ann")["id"]
    # When it answers a survey with a score, a rating and a comment
    body = a_feedback().nps(4).csat(2).comment("slow delivery").ticket("tkt_1")
    recorded = _answered(tenant_a, customer, body)
    # Then the answer names its category and is on the timeline as a feedback interaction
    assert recorded["nps"] == 4 and recorded["csat"] == 2
    assert recorded["category"] == "detractor" and recorded["ticket_id"] == "tkt_1"
    [on_timeline] = _timeline(tenant_a, customer)
    assert on_timeline["id"] == recorded["id"]
    assert (on_timeline["nps"], on_timeline["rating"], on_timeline["text"]) == (
        4,
        2,
        "slow delivery",
    )


def test_an_answer_without_a_score_names_both_fields_and_writes_nothing(tenant_a: Api) -> None:
    customer = tenant_a.create_customer(name="Ann")["id"]

    problem = _answer(tenant_a, customer, a_feedback().comment("hello")).problem(422)

    assert "nps" in problem["detail"] + str(problem.get("errors"))
    assert "csat" in problem["detail"] + str(problem.get("errors"))
    assert _timeline(tenant_a, customer) == []


def test_scores_out_of_range_are_a_problem_naming_the_field(tenant_a: Api) -> None:
    customer = tenant_a.create_customer(name="Ann")["id"]

    too_high = _answer(tenant_a, customer, a_feedback().nps(11)).problem(422)
    too_low = _answer(tenant_a, customer, a_feedback().csat(0)).problem(422)
    unknown = tenant_a.post(f"/v1/customers/{customer}/feedback", {"nps": 5, "x": 1})

    assert [e["field"] for e in too_high["errors"]] == ["nps"]
    assert [e["field"] for e in too_low["errors"]] == ["csat"]
    assert "x" in str(unknown.problem(422)["errors"])
    assert _timeline(tenant_a, customer) == []


def test_an_unknown_customer_is_not_found(tenant_a: Api) -> None:
    answer = _answer(tenant_a, "cus_01ARZ3NDEKTSV4RRFFQ69G5FAV", a_feedback().nps(9))

    answer.problem(404)


def test_a_repeat_with_the_same_idempotency_key_answers_the_first(tenant_a: Api) -> None:
    customer = tenant_a.create_customer(name="Ann")["id"]
    body = a_feedback().nps(9).campaign("cmp_1")

    first = _answer(tenant_a, customer, body, headers={"Idempotency-Key": "fb-1"})
    again = _answer(tenant_a, customer, body, headers={"Idempotency-Key": "fb-1"})

    assert first.status == again.status == 201
    assert first.json["id"] == again.json["id"]
    assert len(_timeline(tenant_a, customer)) == 1


def test_a_customer_answers_a_campaigns_survey_once(tenant_a: Api) -> None:
    # Given a customer who answered campaign 1's survey
    customer = tenant_a.create_customer(name="Ann")["id"]
    first = _answered(tenant_a, customer, a_feedback().nps(9).campaign("cmp_1"))
    # When it answers the same survey again, and another campaign's
    second = _answer(tenant_a, customer, a_feedback().nps(2).campaign("cmp_1"))
    other = _answer(tenant_a, customer, a_feedback().nps(2).campaign("cmp_2"))
    # Then the second answer is refused and recorded nothing; the other campaign's counts
    problem = second.problem(409)
    assert problem["type"].endswith("survey-already-answered")
    assert other.status == 201
    assert first["campaign_id"] == "cmp_1"
    assert sorted(i["nps"] for i in _timeline(tenant_a, customer)) == [2, 9]


def test_a_customer_token_answers_for_its_own_customer_only(
    tenant_a: Api, customer_token: Callable[[Api, str], Api]
) -> None:
    # Given a customer token for Ann
    ann = tenant_a.create_customer(name="Ann")["id"]
    bob = tenant_a.create_customer(name="Bob")["id"]
    token = customer_token(tenant_a, ann)
    # When it answers for Ann and for Bob, and reads tenant-wide feedback
    own = _answer(token, ann, a_feedback().csat(5))
    others = _answer(token, bob, a_feedback().csat(1))
    # Then Ann's answer is recorded, Bob is not found, the tenant-wide reads are forbidden
    assert own.status == 201, own.text
    others.problem(404)
    token.get("/v1/feedback").problem(403)
    token.get("/v1/analytics/nps").problem(403)
    assert [i["rating"] for i in _timeline(tenant_a, ann)] == [5]
    assert _timeline(tenant_a, bob) == []


def test_staff_answer_and_readonly_keys_read_but_do_not_answer(
    tenant_a: Api, key_with_role: Callable[[Api, str], Api]
) -> None:
    customer = tenant_a.create_customer(name="Ann")["id"]
    staff, readonly = key_with_role(tenant_a, "staff"), key_with_role(tenant_a, "readonly")

    assert _answer(staff, customer, a_feedback().nps(10)).status == 201
    _answer(readonly, customer, a_feedback().nps(10)).problem(403)

    assert [i["nps"] for i in readonly.get("/v1/feedback").json["items"]] == [10]
    assert _nps(readonly)["total"]["responses"] == 0  # the stream has not run


def test_the_follow_up_list_is_newest_first_by_category_and_paged(tenant_a: Api) -> None:
    # Given answers of every category, and a rating without a score
    customer = tenant_a.create_customer(name="Ann")["id"]
    scores = [0, 7, 9, 6, 10, 8]
    ids = [_answered(tenant_a, customer, a_feedback().nps(s))["id"] for s in scores]
    _answered(tenant_a, customer, a_feedback().csat(3))
    # When the list is read whole, by category, and in pages of two detractors... and all
    whole = tenant_a.get("/v1/feedback").json["items"]
    detractors = tenant_a.get("/v1/feedback?category=detractor").json["items"]
    promoters = tenant_a.get("/v1/feedback?category=promoter").json["items"]
    first = tenant_a.get("/v1/feedback?limit=4").json
    rest = tenant_a.get(f"/v1/feedback?limit=4&cursor={first['next_cursor']}").json
    # Then each holds what it should, newest first
    assert len(whole) == 7 and whole[0]["csat"] == 3 and whole[0]["category"] is None
    assert [i["id"] for i in whole[1:]] == list(reversed(ids))
    assert [i["nps"] for i in detractors] == [6, 0]
    assert [i["nps"] for i in promoters] == [10, 9]
    assert [i["id"] for i in first["items"] + rest["items"]] == [i["id"] for i in whole]
    assert rest["next_cursor"] is None


def test_the_follow_up_list_keeps_to_its_window(tenant_a: Api) -> None:
    customer = tenant_a.create_customer(name="Ann")["id"]
    today = utc_now().date()
    _answered(tenant_a, customer, a_feedback().nps(1))

    yesterday = tenant_a.get(f"/v1/feedback?to={today.replace(day=1).isoformat()}")
    window = tenant_a.get(f"/v1/feedback?from={today}&to={today}").json["items"]
    reversed_window = tenant_a.get(f"/v1/feedback?from={today}&to=2000-01-01")

    assert len(window) == 1
    if today.day != 1:
        assert yesterday.json["items"] == []
    assert "from" in str(reversed_window.problem(422))


def test_nps_by_period_for_the_tenant_segment_and_campaign(
    tenant_a: Api, streams: LocalStreamRunner, environment: dict[str, str]
) -> None:
    # Given a prospect (no purchase) and a buyer, their memberships computed
    prospect = tenant_a.create_customer(name="Ann")["id"]
    buyer = tenant_a.create_customer(name="Bob")["id"]
    purchase = {"type": "purchase", "amount": "30", "currency": "EUR", "order_id": "o-1"}
    assert tenant_a.post(f"/v1/customers/{buyer}/interactions", purchase).status == 201
    streams.drain()
    # When both answer (one through a campaign's survey), and the stream runs
    _answered(tenant_a, prospect, a_feedback().nps(10).csat(5).campaign("cmp_1"))
    _answered(tenant_a, prospect, a_feedback().nps(8))
    _answered(tenant_a, buyer, a_feedback().nps(3).csat(2).campaign("cmp_1"))
    _answered(tenant_a, buyer, a_feedback().csat(4))
    streams.drain()
    # Then the tenant counts every answer, the segment its members', the campaign its own
    today = utc_now().date().isoformat()
    tenant = _nps(tenant_a, f"from={today}&to={today}")
    assert tenant["total"] == {
        "start": today,
        "responses": 3,
        "promoters": 1,
        "passives": 1,
        "detractors": 1,
        "nps": "0.0",
        "csat_responses": 3,
        "csat_average": "3.67",
    }
    assert tenant["points"] == [tenant["total"]]
    prospects = _nps(tenant_a, "segment_id=lifecycle:prospect")["total"]
    assert (prospects["responses"], prospects["promoters"], prospects["passives"]) == (2, 1, 1)
    assert (prospects["nps"], prospects["csat_average"]) == ("50.0", "5.00")
    campaign = _nps(tenant_a, "campaign_id=cmp_1")["total"]
    assert (campaign["responses"], campaign["promoters"], campaign["detractors"]) == (2, 1, 1)
    assert campaign["csat_average"] == "3.50"
    assert _nps(tenant_a, "campaign_id=cmp_2")["total"]["responses"] == 0
    # And delivering every record again changes no figure
    assert _redeliver(environment) == {"batchItemFailures": []}
    assert _nps(tenant_a, "segment_id=lifecycle:prospect")["total"] == prospects
    assert _nps(tenant_a, "campaign_id=cmp_1")["total"] == campaign


def test_segment_figures_count_the_segments_of_the_time_of_the_answer(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a prospect who answered, counted in lifecycle:prospect
    customer = tenant_a.create_customer(name="Ann")["id"]
    streams.drain()
    _answered(tenant_a, customer, a_feedback().nps(2))
    streams.drain()
    # When it buys (leaving prospects for lifecycle:new) and the stream runs
    purchase = {"type": "purchase", "amount": "30", "currency": "EUR", "order_id": "o-1"}
    assert tenant_a.post(f"/v1/customers/{customer}/interactions", purchase).status == 201
    streams.drain()
    # Then its answer stays with the segment it was in when it answered
    assert _nps(tenant_a, "segment_id=lifecycle:prospect")["total"]["detractors"] == 1
    assert _nps(tenant_a, "segment_id=lifecycle:new")["total"]["responses"] == 0


def test_nps_buckets_by_granularity_and_defaults_to_the_last_30_days(tenant_a: Api) -> None:
    today = utc_now().date()

    default = _nps(tenant_a)
    monthly = _nps(tenant_a, f"from={today.replace(day=1)}&to={today}&granularity=month")

    assert default["period"]["days"] == 30 and default["period"]["last_day"] == today.isoformat()
    assert len(default["points"]) == 30 and default["granularity"] == "day"
    assert [p["start"] for p in monthly["points"]] == [today.replace(day=1).isoformat()]
    assert default["total"]["nps"] is None and default["total"]["csat_average"] is None


def test_bad_nps_parameters_are_problems_naming_what_was_wrong(tenant_a: Api) -> None:
    both = tenant_a.get("/v1/analytics/nps?segment_id=lifecycle:new&campaign_id=cmp_1")
    unknown = tenant_a.get("/v1/analytics/nps?segment_id=seg_nope")
    granularity = tenant_a.get("/v1/analytics/nps?granularity=year")
    too_long = tenant_a.get("/v1/analytics/nps?from=2020-01-01&to=2022-01-01")

    assert "segment_id" in str(both.problem(422))
    assert "seg_nope" in unknown.problem(404)["detail"]
    assert "granularity" in str(granularity.problem(422)["errors"])
    assert "366" in str(too_long.problem(422))


def test_a_tenant_sees_only_its_own_feedback_and_figures(
    tenant_a: Api, tenant_b: Api, streams: LocalStreamRunner
) -> None:
    # Given feedback in tenant A, counted by the stream
    customer = tenant_a.create_customer(name="Ann")["id"]
    streams.drain()
    _answered(tenant_a, customer, a_feedback().nps(9).campaign("cmp_1"))
    streams.drain()
    # When tenant B reads, and answers for A's customer
    listed = tenant_b.get("/v1/feedback").json["items"]
    figures = _nps(tenant_b, "campaign_id=cmp_1")["total"]
    prospects = _nps(tenant_b, "segment_id=lifecycle:prospect")["total"]
    foreign = _answer(tenant_b, customer, a_feedback().nps(1))
    # Then it sees nothing of A's and A's customer does not exist for it
    assert listed == [] and figures["responses"] == 0 and prospects["responses"] == 0
    foreign.problem(404)
    assert _nps(tenant_a, "campaign_id=cmp_1")["total"]["responses"] == 1


def test_an_answer_is_audited_as_its_interaction_changed_by_the_feedback_route(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a customer who answered a campaign's survey
    customer = tenant_a.create_customer(name="Ann")["id"]
    answer = _answer(tenant_a, customer, a_feedback().nps(9).campaign("cmp_1"))
    assert answer.status == 201, answer.text
    # When the streams have run
    streams.drain()
    # Then the trail holds the interaction's creation, named after the feedback route
    now = utc_now()
    entries = trail.entries_between(
        tenant_id(str(tenant_a.tenant_id)), now - timedelta(hours=1), now
    ).values()
    created = [
        (e.action, e.customer_ids, e.request_id)
        for e in entries
        if e.kind is EntryKind.CHANGE and e.resource_type == "interaction"
    ]
    assert created == [("record_feedback", (customer,), answer.headers["x-request-id"])]


def test_feedback_recorded_through_the_interaction_routes_is_listed_and_counted(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a prospect whose memberships the stream computed
    customer = tenant_a.create_customer(name="Ann")["id"]
    streams.drain()
    # When it gives feedback through the single and the batch interaction routes
    single = {"type": "feedback", "nps": 0, "text": "broken"}
    batch = {"items": [{"customer_id": customer, "type": "feedback", "nps": 10}]}
    assert tenant_a.post(f"/v1/customers/{customer}/interactions", single).status == 201
    assert tenant_a.post("/v1/interactions:batch", batch).json["created"] == 1
    streams.drain()
    # Then both are listed and count for the segment the customer is in
    listed = tenant_a.get("/v1/feedback").json["items"]
    assert sorted((i["nps"], i["comment"]) for i in listed) == [(0, "broken"), (10, None)]
    prospects = _nps(tenant_a, "segment_id=lifecycle:prospect")["total"]
    assert (prospects["responses"], prospects["promoters"], prospects["detractors"]) == (2, 1, 1)


def test_an_answer_in_more_segments_than_a_transaction_holds_counts_once_in_each(
    tenant_a: Api,
) -> None:
    # Given an answer of a customer in 150 segments and a campaign (more than 99 counters)
    owner = tenant_id(str(tenant_a.tenant_id))
    segments = [f"seg_{n:03d}" for n in range(150)]
    figures = answer_figures({"nps": 10, "rating": 4})
    day = date(2026, 3, 2)
    # When it is counted, and then counted again (a redelivery)
    first = repository.count_answer(owner, "int_1", day, segments, "cmp_1", figures)
    again = repository.count_answer(owner, "int_1", day, segments, "cmp_1", figures)
    # Then two parts were committed once, and every counter holds the answer once
    assert (first, again) == (2, 0)
    for segment in (segments[0], segments[98], segments[99], segments[149]):
        rows = repository.read_segment_days(owner, segment, "2026-03-01", "2026-03-31")
        assert rows == {"2026-03-02": figures}, segment
    assert repository.read_campaign_days(owner, "cmp_1", "2026-03-02", "2026-03-02") == {
        "2026-03-02": figures
    }

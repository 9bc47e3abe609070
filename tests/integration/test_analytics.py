"""Analytics through the Chalice test client on moto, with the local stream runner: a known
set of operations, every figure checked against values the test computes itself."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.dal import analytics as repository
from chalicelib.domain.clock import utc_now
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.streams.data_table import keep_customers_current
from devtools.stream_runner import LocalStreamRunner
from tests.support.api import Api
from tests.support.streams import data_stream_records


def _owner(api: Api) -> TenantId:
    return tenant_id(str(api.tenant_id))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _upper_bound(seconds: float) -> int:
    """The histogram's bucket bound, written out here independently of the code: the
    smallest ceil(60 * 1.1^k) above the duration."""
    return next(b for b in (math.ceil(60 * 1.1**k) for k in range(200)) if b > seconds)


def _nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


@dataclass(frozen=True)
class Sent:
    customer: str
    type: str
    at: datetime
    channel: str | None
    amount: Decimal | None = None
    rating: int | None = None
    nps: int | None = None


class Clock:
    """Stands in for the tickets service's clock, so ticket times are chosen by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Scenario:
    api: Api
    today: date
    customers: dict[str, str]
    sent: list[Sent]
    redeemed: int
    tickets: dict[str, dict[str, Any]]
    base: datetime

    def events(self) -> list[tuple[str, date, Decimal]]:
        """Every daily figure the test knows it caused: (metric, day, amount)."""
        one = Decimal(1)
        found: list[tuple[str, date, Decimal]] = [
            ("customers_new", self.today, one) for _ in self.customers
        ]
        first_buys: set[str] = set()
        for item in sorted(self.sent, key=lambda i: i.at):
            day = item.at.date()
            found += [
                ("interactions", day, one),
                (f"interactions:{item.type}", day, one),
                (f"channel:{item.channel or 'unspecified'}", day, one),
            ]
            if item.type == "purchase":
                found += [("purchases", day, one), ("revenue", day, item.amount or Decimal(0))]
                if item.customer in first_buys:
                    found.append(("repeat_purchases", day, one))
                first_buys.add(item.customer)
            if item.rating is not None:
                found += [("csat_responses", day, one), ("csat_sum", day, Decimal(item.rating))]
            if item.nps is not None:
                found.append(("nps_responses", day, one))
                if item.nps >= 9:
                    found.append(("nps_promoters", day, one))
                if item.nps <= 6:
                    found.append(("nps_detractors", day, one))
        found += _ticket_events(self.tickets, self.base)
        ledger = _ledger_totals(self.api, iter(self.customers.values()))
        found += [
            ("points_issued", self.today, Decimal(ledger.get("earn", 0))),
            ("points_redeemed", self.today, Decimal(-ledger.get("redeem", 0))),
            ("points_expired", self.today, Decimal(-ledger.get("expire", 0))),
        ]
        return found


def _ticket_events(
    tickets: dict[str, dict[str, Any]], base: datetime
) -> list[tuple[str, date, Decimal]]:
    one = Decimal(1)
    found: list[tuple[str, date, Decimal]] = []
    for ticket in tickets.values():
        found.append(("tickets_opened", base.date(), one))
        if ticket["open"]:
            continue
        responded = base + timedelta(seconds=ticket["frt"])
        resolved = base + timedelta(seconds=ticket["rt"])
        found += [
            ("tickets_first_responded", responded.date(), one),
            ("tickets_resolved", resolved.date(), one),
            ("csat_responses", ticket["rated"].date(), one),
            ("csat_sum", ticket["rated"].date(), Decimal(ticket["score"])),
        ]
        hours_fr, hours_res = ticket["targets"]
        if ticket["frt"] > hours_fr * 3600 or ticket["rt"] > hours_res * 3600:
            found.append(("tickets_sla_breached", resolved.date(), one))
    return found


def _record(api: Api, sent: list[Sent], item: Sent, order: str | None = None) -> None:
    body: dict[str, Any] = {"type": item.type, "occurred_at": _stamp(item.at)}
    if item.channel:
        body["channel"] = item.channel
    if item.type == "purchase":
        body |= {"amount": str(item.amount), "currency": "EUR", "order_id": order}
    if item.rating is not None:
        body["rating"] = item.rating
    if item.nps is not None:
        body["nps"] = item.nps
    answer = api.post(f"/v1/customers/{item.customer}/interactions", body)
    assert answer.status == 201, answer.text
    sent.append(item)


def _drive(api: Api, streams: LocalStreamRunner, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    """The known operations: four customers, purchases over two months and a year ago,
    feedback, a redemption, three tickets with chosen response and resolution times."""
    now = utc_now()
    today = now.date()
    names = ("ann", "bob", "cyd", "dan")
    customers = {n: api.create_customer(name=n.title())["id"] for n in names}
    sent: list[Sent] = []
    ann, bob, cyd, dan = (customers[n] for n in names)
    two_months = now - timedelta(days=60)
    _record(api, sent, Sent(ann, "purchase", two_months, "online", Decimal("120.50")), "o-1")
    _record(api, sent, Sent(ann, "purchase", now - timedelta(days=31), "store", Decimal(80)), "o-2")
    _record(api, sent, Sent(ann, "purchase", now, "online", Decimal("19.99")), "o-3")
    _record(api, sent, Sent(bob, "purchase", now - timedelta(days=45), "store", Decimal(60)), "o-4")
    _record(api, sent, Sent(dan, "purchase", now - timedelta(days=400), None, Decimal(40)), "o-5")
    _record(api, sent, Sent(dan, "purchase", now - timedelta(minutes=5), "app", Decimal(10)), "o-6")
    _record(api, sent, Sent(ann, "feedback", now, "app", rating=4, nps=9))
    _record(api, sent, Sent(bob, "feedback", now - timedelta(days=10), "online", nps=3))
    _record(api, sent, Sent(cyd, "feedback", now - timedelta(days=2), None, rating=3, nps=10))
    _record(api, sent, Sent(cyd, "visit", now - timedelta(days=2), "store"))
    _record(api, sent, Sent(bob, "complaint", now - timedelta(days=1), None))
    answer = api.post(f"/v1/customers/{ann}/points/redeem", {"points": 50, "reason": "gift"})
    assert answer.status == 201, answer.text

    # Tickets, on a clock the test moves: opened three days ago at 10:00.
    from chalicelib.services import tickets as ticket_service

    base = datetime.combine(today - timedelta(days=3), datetime.min.time(), UTC) + timedelta(
        hours=10
    )
    clock = Clock(base)
    monkeypatch.setattr(ticket_service, "utc_now", clock)

    def open_ticket(customer: str, priority: str) -> str:
        body = {
            "customer_id": customer,
            "category": "complaint",
            "subject": "Late",
            "description": "The parcel is late.",
            "channel": "email",
            "priority": priority,
        }
        answer = api.post("/v1/tickets", body)
        assert answer.status == 201, answer.text
        return str(answer.json["id"])

    def at(hours: float, call: Callable[[], Any]) -> None:
        clock.now = base + timedelta(hours=hours)
        answer = call()
        assert answer.status in (200, 201), answer.text

    t1, t2, t3 = open_ticket(bob, "normal"), open_ticket(ann, "urgent"), open_ticket(cyd, "low")
    at(0.5, lambda: api.post(f"/v1/tickets/{t1}/comments", {"body": "On it"}))
    at(2, lambda: api.post(f"/v1/tickets/{t2}/comments", {"body": "Looking"}))
    at(5, lambda: api.post(f"/v1/tickets/{t1}/transitions", {"to": "resolved"}))
    at(6, lambda: api.post(f"/v1/tickets/{t1}/rating", {"score": 5}))
    at(50, lambda: api.post(f"/v1/tickets/{t2}/transitions", {"to": "resolved"}))
    at(51, lambda: api.post(f"/v1/tickets/{t2}/rating", {"score": 2}))
    tickets: dict[str, dict[str, Any]] = {
        # first response and resolution in seconds, priority targets (hours), rating
        t1: {
            "open": False,
            "frt": 1800,
            "rt": 5 * 3600,
            "targets": (8, 72),
            "score": 5,
            "rated": base + timedelta(hours=6),
        },
        t2: {
            "open": False,
            "frt": 7200,
            "rt": 50 * 3600,
            "targets": (1, 8),
            "score": 2,
            "rated": base + timedelta(hours=51),
        },
        t3: {"open": True},
    }
    streams.drain()
    return Scenario(api, today, customers, sent, 50, tickets, base)


@pytest.fixture
def scenario(
    tenant_a: Api, streams: LocalStreamRunner, monkeypatch: pytest.MonkeyPatch
) -> Scenario:
    return _drive(tenant_a, streams, monkeypatch)


def _ledger_totals(api: Api, customers: Iterator[str]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for customer in customers:
        answer = api.get(f"/v1/customers/{customer}/points/transactions?limit=100")
        assert answer.status == 200, answer.text
        for entry in answer.json["items"]:
            totals[entry["type"]] += entry["points"]
    return dict(totals)


def _expected_summary(s: Scenario, first: date, last: date) -> dict[str, Any]:
    inside = [i for i in s.sent if first <= i.at.date() <= last]
    purchases = [i for i in inside if i.type == "purchase"]
    revenue = sum((i.amount or Decimal(0) for i in purchases), Decimal(0))
    ratings = [i.rating for i in inside if i.rating is not None]
    ratings += [t["score"] for t in s.tickets.values() if "score" in t]
    nps_values = [i.nps for i in inside if i.nps is not None]
    promoters = sum(1 for v in nps_values if v >= 9)
    detractors = sum(1 for v in nps_values if v <= 6)
    closed = [t for t in s.tickets.values() if not t["open"]]
    breached = [
        t for t in closed if t["frt"] > t["targets"][0] * 3600 or t["rt"] > t["targets"][1] * 3600
    ]
    ledger = _ledger_totals(s.api, iter(s.customers.values()))
    issued, redeemed = ledger.get("earn", 0), -ledger.get("redeem", 0)
    expired = -ledger.get("expire", 0)
    buyers = Counter(i.customer for i in s.sent if i.type == "purchase")

    def quantile(values: list[float], fraction: float) -> int:
        return _upper_bound(_nearest_rank(values, fraction))

    frts = [float(t["frt"]) for t in closed]
    rts = [float(t["rt"]) for t in closed]
    return {
        "customers_new": len(s.customers),
        "points": (issued, redeemed, expired, issued - redeemed - expired),
        "redemption_rate": (Decimal(redeemed) / Decimal(issued)).quantize(Decimal("0.0001")),
        "interactions": len(inside),
        "by_type": dict(Counter(i.type for i in inside)),
        "by_channel": dict(Counter(i.channel or "unspecified" for i in inside)),
        "tickets": (len(s.tickets), len(closed), len(s.tickets) - len(closed)),
        "frt": (len(frts), quantile(frts, 0.5), quantile(frts, 0.9)),
        "rt": (len(rts), quantile(rts, 0.5), quantile(rts, 0.9)),
        "sla_breach_rate": Decimal(len(breached)) / Decimal(len(closed)),
        "csat": (len(ratings), Decimal(sum(ratings)) / Decimal(len(ratings))),
        "nps": (len(nps_values), Decimal(100 * (promoters - detractors)) / len(nps_values)),
        "purchases": (len(purchases), revenue, revenue / len(purchases)),
        "buyers": (len(buyers), sum(1 for n in buyers.values() if n >= 2)),
    }


def test_every_summary_figure_matches_the_operations(scenario: Scenario) -> None:
    # Given the known operations (fixture); when the summary covers the last 90 days
    s = scenario
    first, last = s.today - timedelta(days=90), s.today
    answer = s.api.get(f"/v1/analytics/summary?from={first}&to={last}")
    # Then every figure is what the test computes from what it sent
    assert answer.status == 200, answer.text
    body = answer.json
    want = _expected_summary(s, first, last)
    assert body["period"] == {"first_day": str(first), "last_day": str(last), "days": 91}
    customers = body["customers"]
    assert customers["total"] == 4 and customers["new_in_period"] == want["customers_new"]
    # ann, bob and dan bought within 90 days (none first within 30): active; cyd never did
    assert customers["lifecycle"] == {"active": 3, "prospect": 1}
    segments = {i["id"]: i["members"] for i in s.api.get("/v1/segments").json["items"]}
    assert customers["lifecycle"] == {
        k.split(":")[1]: v for k, v in segments.items() if k.startswith("lifecycle:") and v
    }
    assert customers["rfm"] == {
        k.split(":")[1]: v for k, v in segments.items() if k.startswith("rfm:") and v
    }
    # by hand (docs/data-model.md, RFM): ann R5 F3 M2 and dan R5 F2 M1 are potential
    # loyalists; bob R4 F1 is recent
    assert customers["rfm"] == {"potential_loyalists": 2, "recent": 1}
    assert customers["tiers"] == {"member": 3, "none": 1}

    loyalty = body["loyalty"]
    issued, redeemed, expired, outstanding = want["points"]
    assert issued == 120 + 80 + 19 + 60 + 40 + 10 and redeemed == 50
    assert (loyalty["points_issued"], loyalty["points_redeemed"]) == (issued, redeemed)
    assert (loyalty["points_expired"], loyalty["points_outstanding"]) == (expired, outstanding)
    balances = sum(
        s.api.get(f"/v1/customers/{c}/points").json["balance"]
        for c in s.customers.values()
        if c != s.customers["cyd"]
    )
    assert loyalty["points_outstanding"] == balances
    assert Decimal(loyalty["redemption_rate"]) == want["redemption_rate"]

    interactions = body["interactions"]
    assert interactions["total"] == want["interactions"]
    assert interactions["by_type"] == want["by_type"]
    assert interactions["by_channel"] == want["by_channel"]

    tickets = body["tickets"]
    assert (tickets["opened"], tickets["resolved"], tickets["open_now"]) == want["tickets"]
    frt, rt = tickets["first_response"], tickets["resolution"]
    assert (frt["count"], frt["median_seconds"], frt["p90_seconds"]) == want["frt"]
    assert (rt["count"], rt["median_seconds"], rt["p90_seconds"]) == want["rt"]
    assert Decimal(tickets["sla_breach_rate"]) == want["sla_breach_rate"]

    satisfaction = body["satisfaction"]
    responses, average = want["csat"]
    assert satisfaction["csat_responses"] == responses
    assert Decimal(satisfaction["csat_average"]) == average.quantize(Decimal("0.01"))
    nps_responses, nps = want["nps"]
    assert satisfaction["nps_responses"] == nps_responses
    assert Decimal(satisfaction["nps"]) == nps.quantize(Decimal("0.1"))

    commerce = body["commerce"]
    purchases, revenue, aov = want["purchases"]
    assert commerce["purchases"] == purchases and Decimal(commerce["revenue"]) == revenue
    assert Decimal(commerce["average_order_value"]) == aov.quantize(Decimal("0.01"))
    buyers, repeat = want["buyers"]
    assert (commerce["buyers"], commerce["repeat_buyers"]) == (buyers, repeat)
    rate = (Decimal(repeat) / Decimal(buyers)).quantize(Decimal("0.0001"))
    assert Decimal(commerce["repeat_purchase_rate"]) == rate


def test_a_short_period_counts_only_its_own_days(scenario: Scenario) -> None:
    s = scenario
    first = last = s.today - timedelta(days=45)
    body = s.api.get(f"/v1/analytics/summary?from={first}&to={last}").json
    assert body["commerce"]["purchases"] == 1 and body["commerce"]["revenue"] == "60"
    assert body["interactions"]["by_type"] == {"purchase": 1}
    assert body["tickets"]["opened"] == 0 and body["customers"]["new_in_period"] == 0
    assert body["tickets"]["first_response"]["median_seconds"] is None
    # gauges are "now" whatever the period
    assert body["customers"]["total"] == 4 and body["tickets"]["open_now"] == 1


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def test_every_metric_over_time_matches_the_operations(scenario: Scenario) -> None:
    # Every additive figure, per day over the last 70 days, against the test's own events;
    # and three of them per ISO week and per month.
    from chalicelib.domain.analytics import DAILY_METRICS

    s = scenario
    events = s.events()
    first, last = s.today - timedelta(days=70), s.today
    checks = [(metric, "day") for metric in DAILY_METRICS]
    checks += [(m, g) for m in ("revenue", "csat_sum", "channel:store") for g in ("week", "month")]
    for metric, granularity in checks:
        path = f"/v1/analytics/timeseries?metric={metric}&from={first}&to={last}"
        answer = s.api.get(f"{path}&granularity={granularity}")
        assert answer.status == 200, answer.text
        expected = _expected_series(events, metric, granularity, first, last)
        got = {date.fromisoformat(p["start"]): Decimal(p["value"]) for p in answer.json["points"]}
        assert got == expected, (metric, granularity)
        assert (answer.json["metric"], answer.json["granularity"]) == (metric, granularity)
        assert answer.json["period"] == {
            "first_day": str(first),
            "last_day": str(last),
            "days": 71,
        }


def _expected_series(
    events: list[tuple[str, date, Decimal]],
    metric: str,
    granularity: str,
    first: date,
    last: date,
) -> dict[date, Decimal]:
    def start(day: date) -> date:
        if granularity == "week":
            return _monday(day)
        return day.replace(day=1) if granularity == "month" else day

    expected: dict[date, Decimal] = defaultdict(Decimal)
    day = first
    while day <= last:
        expected[start(day)] += 0
        day += timedelta(days=1)
    for name, when, amount in events:
        if name == metric and first <= when <= last:
            expected[start(when)] += amount
    return dict(expected)


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _months_between(a: str, b: str) -> int:
    return (int(b[:4]) - int(a[:4])) * 12 + int(b[5:]) - int(a[5:])


def test_cohorts_group_buyers_by_their_first_purchase_month(scenario: Scenario) -> None:
    s = scenario
    first = s.today - timedelta(days=430)
    answer = s.api.get(f"/v1/analytics/cohorts?from={first}&to={s.today}")
    assert answer.status == 200, answer.text
    # expected, from the purchases sent
    bought: dict[str, set[str]] = defaultdict(set)
    for item in s.sent:
        if item.type == "purchase":
            bought[item.customer].add(_month(item.at.date()))
    sizes: Counter[str] = Counter()
    again: Counter[tuple[str, int]] = Counter()
    for months in bought.values():
        cohort = min(months)
        sizes[cohort] += 1
        for month in months - {cohort}:
            again[(cohort, _months_between(cohort, month))] += 1
    current = _month(s.today)
    items = answer.json["items"]
    assert items[0]["month"] == _month(first) and items[-1]["month"] == current
    for cohort in items:
        month = cohort["month"]
        following = _months_between(month, current)
        returning = [again[(month, k)] for k in range(1, following + 1)]
        assert cohort["customers"] == sizes[month]
        assert cohort["returning"] == returning
        shares = [
            str((Decimal(n) / sizes[month]).quantize(Decimal("0.0001"))) if sizes[month] else None
            for n in returning
        ]
        assert cohort["shares"] == shares
    assert sum(c["customers"] for c in items) == 3


def _deliver(records: list[dict[str, Any]]) -> Any:
    class Event:
        context = None

        def to_dict(self) -> dict[str, Any]:
            return {"Records": records}

    return keep_customers_current(Event())


def _counters(owner: TenantId, today: date) -> tuple[Any, ...]:
    first = (today - timedelta(days=500)).isoformat()
    return (
        repository.read_gauges(owner),
        repository.read_days(owner, first, today.isoformat()),
        repository.read_cohorts(owner, "2000-01", "2999-12"),
    )


def test_delivering_every_batch_again_changes_no_figure(
    scenario: Scenario, environment: dict[str, str]
) -> None:
    # Given the figures after the stream applied the operations
    s = scenario
    owner = _owner(s.api)
    summary = s.api.get("/v1/analytics/summary?from=2000-01-01&to=2000-01-02")
    wide = f"/v1/analytics/summary?from={s.today - timedelta(days=365)}&to={s.today}"
    before = (s.api.get(wide).json, _counters(owner, s.today))
    versions = {c: repository.get_contribution(owner, c).version for c in s.customers.values()}
    # When every record is delivered again, twice, in one batch and then one by one
    records = data_stream_records(environment)
    assert _deliver(records) == {"batchItemFailures": []}
    for record in records:
        assert _deliver([record]) == {"batchItemFailures": []}
    # Then no figure and no contribution changed
    assert (s.api.get(wide).json, _counters(owner, s.today)) == before
    assert {
        c: repository.get_contribution(owner, c).version for c in s.customers.values()
    } == versions
    assert summary.status == 200 and summary.json["customers"]["total"] == 4


def test_the_counters_hold_exactly_the_sum_of_the_contributions(scenario: Scenario) -> None:
    s = scenario
    owner = _owner(s.api)
    gauges: Counter[str] = Counter()
    days: dict[str, Counter[str]] = defaultdict(Counter)
    for customer in s.customers.values():
        stored = repository.get_contribution(owner, customer)
        assert stored.version >= 1
        gauges.update(stored.contribution.gauges)
        for day, figures in stored.contribution.days.items():
            days[day].update(figures)
    stored_gauges, stored_days, _ = _counters(owner, s.today)
    assert stored_gauges == {k: v for k, v in gauges.items() if v}
    assert stored_days == {d: {k: v for k, v in f.items() if v} for d, f in days.items()}


def test_deleting_a_customer_removes_it_from_the_gauges_only(
    scenario: Scenario, streams: LocalStreamRunner
) -> None:
    s = scenario
    wide = f"/v1/analytics/summary?from={s.today - timedelta(days=365)}&to={s.today}"
    before = s.api.get(wide).json
    assert s.api.delete(f"/v1/customers/{s.customers['cyd']}").status == 204
    streams.drain()
    after = s.api.get(wide).json
    assert after["customers"]["total"] == 3
    assert after["customers"]["lifecycle"].get("prospect", 0) == 0
    assert after["customers"]["tiers"] == {"member": 3}
    assert after["interactions"] == before["interactions"]
    assert after["satisfaction"] == before["satisfaction"]


def test_a_long_history_is_applied_in_parts_and_exactly(
    tenant_a: Api, streams: LocalStreamRunner
) -> None:
    # Given a customer whose first refresh books 90 different days (more than fit in one
    # transaction beside the state)
    customer = tenant_a.create_customer(name="Old")["id"]
    now = utc_now()
    for n in range(90):
        body = {"type": "visit", "occurred_at": _stamp(now - timedelta(days=n))}
        assert tenant_a.post(f"/v1/customers/{customer}/interactions", body).status == 201
    # When the stream applies it all at once
    streams.drain()
    # Then every day counts exactly one visit
    first = now.date() - timedelta(days=89)
    answer = tenant_a.get(
        f"/v1/analytics/timeseries?metric=interactions:visit&from={first}&to={now.date()}"
    )
    assert [p["value"] for p in answer.json["points"]] == ["1"] * 90
    stored = repository.get_contribution(_owner(tenant_a), customer)
    assert stored.version >= 3  # at least two parts before the final transaction


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/analytics/summary?from=2026-02-01&to=2026-01-01", "from"),
        ("/v1/analytics/summary?from=2024-01-01&to=2026-01-01", "to"),
        ("/v1/analytics/summary?from=yesterday", "from"),
        ("/v1/analytics/summary?period=week", "period"),
        ("/v1/analytics/timeseries?metric=profit", "metric"),
        ("/v1/analytics/timeseries", "metric"),
        ("/v1/analytics/timeseries?metric=revenue&granularity=hour", "granularity"),
        ("/v1/analytics/timeseries?metric=revenue&from=2026-03-01&to=2026-01-01", "from"),
        ("/v1/analytics/cohorts?from=2020-01-01&to=2026-01-01", "to"),
        ("/v1/analytics/cohorts?from=2026-05-01&to=2026-01-01", "from"),
    ],
)
def test_bad_parameters_are_a_problem_naming_the_field(
    tenant_a: Api, path: str, field: str
) -> None:
    problem = tenant_a.get(path).problem(422)
    assert field in [e["field"] for e in problem["errors"]], problem


def test_the_merchants_people_read_analytics_and_app_keys_do_not(
    tenant_a: Api, key_with_role: Callable[[Api, str], Api]
) -> None:
    for role in ("staff", "readonly"):
        answer = key_with_role(tenant_a, role).get("/v1/analytics/summary")
        assert answer.status == 200, answer.text
        assert answer.json["customers"]["total"] == 0
    key_with_role(tenant_a, "app").get("/v1/analytics/summary").problem(403)


def test_a_tenant_sees_only_its_own_figures(
    tenant_a: Api, tenant_b: Api, streams: LocalStreamRunner
) -> None:
    tenant_a.create_customer(name="Ann")
    streams.drain()
    assert tenant_a.get("/v1/analytics/summary").json["customers"]["total"] == 1
    assert tenant_b.get("/v1/analytics/summary").json["customers"]["total"] == 0

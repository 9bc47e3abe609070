"""Analytics request parameters and response bodies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field

from chalicelib.domain import analytics
from chalicelib.schemas.common import Day, QueryParameters

_FROM = "First UTC day included (default: 29 days before `to`)."
_TO = "Last UTC day included (default: today)."


class PeriodQuery(QueryParameters):
    from_: Day | None = Field(None, alias="from", description=_FROM)
    to: Day | None = Field(None, description=_TO)


class TimeseriesQuery(QueryParameters):
    metric: str = Field(
        max_length=64,
        description="An additive daily figure: " + ", ".join(analytics.DAILY_METRICS),
    )
    from_: Day | None = Field(None, alias="from", description=_FROM)
    to: Day | None = Field(None, description=_TO)
    granularity: analytics.Granularity = Field(
        analytics.Granularity.DAY, description="day, week (ISO, from Monday) or month."
    )


class CohortQuery(QueryParameters):
    from_: Day | None = Field(
        None,
        alias="from",
        description="A day in the first cohort month (default: a year before `to`).",
    )
    to: Day | None = Field(None, description="A day in the last cohort month (default: now).")


class PeriodOut(BaseModel):
    first_day: date = Field(description="`from`: the first UTC day included.")
    last_day: date = Field(description="`to`: the last UTC day included.")
    days: int

    @classmethod
    def of(cls, period: analytics.Period) -> PeriodOut:
        return cls(first_day=period.first, last_day=period.last, days=period.days)


class CustomersOut(BaseModel):
    total: int = Field(description="Customers now.")
    new_in_period: int = Field(description="Customers created in the period (still existing).")
    lifecycle: dict[str, int] = Field(description="Customers per lifecycle stage, now.")
    rfm: dict[str, int] = Field(description="Customers per RFM group, now.")
    tiers: dict[str, int] = Field(
        description="Customers per loyalty tier, now (`none`: no account)."
    )


class LoyaltyOut(BaseModel):
    points_issued: int = Field(description="Points earned in the period, net of reversals.")
    points_redeemed: int
    points_expired: int
    points_outstanding: int = Field(
        description="Available points of all customers now: the liability."
    )
    redemption_rate: Decimal | None = Field(description="Redeemed / issued in the period.")


class InteractionsOut(BaseModel):
    total: int
    by_type: dict[str, int]
    by_channel: dict[str, int] = Field(description="`unspecified`: recorded without a channel.")


class DurationOut(BaseModel):
    count: int
    median_seconds: int | None = Field(
        description="Approximate: the upper bound of the histogram bucket holding the "
        "median: never below the exact value, at most 10 % + 1 s above it (60 s under a minute)."
    )
    p90_seconds: int | None = Field(description="As the median, for the 90th percentile.")

    @classmethod
    def of(cls, stats: analytics.DurationStats) -> DurationOut:
        return cls(
            count=stats.count, median_seconds=stats.median_seconds, p90_seconds=stats.p90_seconds
        )


class TicketsOut(BaseModel):
    opened: int
    resolved: int
    open_now: int
    first_response: DurationOut = Field(description="SLA-clock time to the first response.")
    resolution: DurationOut = Field(description="SLA-clock time to resolution.")
    sla_breach_rate: Decimal | None = Field(
        description="Share of the tickets resolved in the period that missed a target."
    )


class SatisfactionOut(BaseModel):
    csat_responses: int
    csat_average: Decimal | None = Field(description="Ratings 1-5 (tickets and feedback).")
    nps_responses: int
    nps: Decimal | None = Field(description="Promoters (9-10) minus detractors (0-6), in %.")


class CommerceOut(BaseModel):
    purchases: int
    revenue: Decimal
    average_order_value: Decimal | None
    buyers: int = Field(description="Customers with at least one purchase, now.")
    repeat_buyers: int = Field(description="Customers with two purchases or more, now.")
    repeat_purchase_rate: Decimal | None = Field(description="repeat_buyers / buyers.")


class SummaryOut(BaseModel):
    period: PeriodOut
    customers: CustomersOut
    loyalty: LoyaltyOut
    interactions: InteractionsOut
    tickets: TicketsOut
    satisfaction: SatisfactionOut
    commerce: CommerceOut

    @classmethod
    def of(cls, s: analytics.Summary) -> SummaryOut:
        return cls(
            period=PeriodOut.of(s.period),
            customers=CustomersOut(
                total=s.customers_total,
                new_in_period=s.customers_new,
                lifecycle=s.lifecycle,
                rfm=s.rfm,
                tiers=s.tiers,
            ),
            loyalty=LoyaltyOut(
                points_issued=s.points_issued,
                points_redeemed=s.points_redeemed,
                points_expired=s.points_expired,
                points_outstanding=s.points_outstanding,
                redemption_rate=s.redemption_rate,
            ),
            interactions=InteractionsOut(
                total=s.interactions_total,
                by_type=s.interactions_by_type,
                by_channel=s.interactions_by_channel,
            ),
            tickets=TicketsOut(
                opened=s.tickets_opened,
                resolved=s.tickets_resolved,
                open_now=s.tickets_open_now,
                first_response=DurationOut.of(s.first_response),
                resolution=DurationOut.of(s.resolution),
                sla_breach_rate=s.sla_breach_rate,
            ),
            satisfaction=SatisfactionOut(
                csat_responses=s.csat_responses,
                csat_average=s.csat_average,
                nps_responses=s.nps_responses,
                nps=s.nps,
            ),
            commerce=CommerceOut(
                purchases=s.purchases,
                revenue=s.revenue,
                average_order_value=s.average_order_value,
                buyers=s.buyers,
                repeat_buyers=s.repeat_buyers,
                repeat_purchase_rate=s.repeat_purchase_rate,
            ),
        )


class SeriesPointOut(BaseModel):
    start: date = Field(description="First day of the bucket.")
    value: Decimal


class TimeseriesOut(BaseModel):
    metric: str
    granularity: analytics.Granularity
    period: PeriodOut
    points: list[SeriesPointOut]


class CohortOut(BaseModel):
    month: str = Field(description="Month of the first purchase (`yyyy-mm`).")
    customers: int
    returning: list[int] = Field(description="Customers buying again in month +1, +2, ….")
    shares: list[Decimal | None] = Field(description="returning / customers, per month.")


class CohortsOut(BaseModel):
    items: list[CohortOut]

"""Campaign rules: template rendering (with the coupon code), the offers that issue
coupons, holdout assignment, uplift, quiet hours, the
frequency-cap window and recurring schedules."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain import campaigns as rules
from chalicelib.domain.errors import IllegalTransition, InvalidInput
from chalicelib.domain.offers import Offer, OfferType

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def an_offer(kind: OfferType) -> Offer:
    """A live offer of `kind` with the one value field its type takes."""
    value = {
        OfferType.DISCOUNT: {"percent": Decimal(10)},
        OfferType.GIFT: {"gift": "tote bag"},
        OfferType.BONUS_POINTS: {"multiplier": Decimal(2)},
    }[kind]
    fields: dict[str, object] = {
        "points": None,
        "multiplier": None,
        "percent": None,
        "amount": None,
        "currency": None,
        "gift": None,
        **value,
    }
    return Offer(
        id="off_1",
        name="offer",
        description=None,
        type=kind,
        coupon_days=30,
        valid_from=None,
        valid_until=None,
        active=True,
        created_at=NOW,
        updated_at=NOW,
        **fields,  # type: ignore[arg-type]
    )


def test_a_template_takes_the_customer_fields_as_plain_text() -> None:
    # Given a customer whose name holds template-like text
    values = rules.customer_fields("cus_1", "Ann {{email}} Lee", "a@x.io", None, None)
    # When a template naming its fields is rendered
    text = rules.render("Hi {{ first_name }}, {{last_name}}! {{phone}}.", values)
    # Then each placeholder is replaced once, nothing is evaluated, a missing value is empty
    assert text == "Hi Ann, {{email}} Lee! ."


def test_a_template_takes_the_coupon_code_as_plain_text() -> None:
    # Given a customer's values and the code of the coupon its message issues
    values = rules.customer_fields("cus_1", "Ann Lee", None, None, None)
    values[rules.COUPON_FIELD] = "ABCD2345EF"
    # When a template naming the code is checked and rendered
    rules.check_template("Hi {{first_name}}, use {{ coupon_code }}")
    text = rules.render("Hi {{first_name}}, use {{ coupon_code }}", values)
    # Then the code stands in the text
    assert text == "Hi Ann, use ABCD2345EF"


def test_a_template_without_a_coupon_renders_the_code_empty() -> None:
    values = rules.customer_fields("cus_1", "Ann", None, None, None)
    assert rules.render("Code: [{{coupon_code}}]", values) == "Code: []"


@pytest.mark.parametrize(
    ("kind", "issues"),
    [(OfferType.DISCOUNT, True), (OfferType.GIFT, True), (OfferType.BONUS_POINTS, False)],
)
def test_discount_and_gift_offers_issue_campaign_coupons(kind: OfferType, issues: bool) -> None:
    # Given an offer of each type
    offer = an_offer(kind)
    # Then only a discount or gift campaign issues coupons, and only such an offer
    # lets a template name the coupon code
    assert rules.issues_coupons(offer) is issues
    template = "Your code: {{coupon_code}}"
    if issues:
        rules.check_offer(template, offer)
    else:
        with pytest.raises(InvalidInput) as refused:
            rules.check_offer(template, offer)
        assert refused.value.issues[0].code == "no_coupon_offer"
    rules.check_offer("No code here", offer)


def test_a_coupon_code_without_an_offer_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.check_offer("Your code: {{coupon_code}}", None)
    assert refused.value.issues[0].field == "message.template"


def test_an_offers_coupon_names_the_campaign_and_lasts_its_days() -> None:
    # When a discount offer makes a coupon for a campaign's recipient
    coupon = an_offer(OfferType.DISCOUNT).new_coupon("cus_1", NOW, "cmp_1")
    # Then it is the customer's, names the campaign and expires after the coupon days
    assert (coupon.customer_id, coupon.campaign_id, coupon.offer_id) == ("cus_1", "cmp_1", "off_1")
    assert coupon.expires_at == NOW + timedelta(days=30)
    assert len(coupon.code) == 10


@pytest.mark.parametrize(
    ("template", "field_code"),
    [
        ("Hi {{nickname}}", "unknown_field"),
        ("Hi {{__class__}}", "unknown_field"),
        ("{{x", "unbalanced"),
    ],
)
def test_unknown_fields_and_stray_braces_are_refused(template: str, field_code: str) -> None:
    # When a template names something that is not a customer field
    with pytest.raises(InvalidInput) as refused:
        rules.check_template(template)
    # Then it is refused naming the message's template
    assert refused.value.issues[0].field == "message.template"
    assert refused.value.issues[0].code == field_code


def test_holdout_assignment_is_deterministic_and_close_to_its_share() -> None:
    # Given 20,000 customers and a 10 % holdout
    customers = [f"cus_{n:026d}" for n in range(20_000)]
    # When they are assigned twice
    first = [rules.in_holdout("cmp_A", c, 10) for c in customers]
    again = [rules.in_holdout("cmp_A", c, 10) for c in customers]
    # Then each customer lands in the same group, and the share is within 3 standard errors
    assert first == again
    share = sum(first) / len(customers)
    assert abs(share - 0.10) < 3 * math.sqrt(0.1 * 0.9 / len(customers))
    # and another campaign draws an independent group; 0 % holds out nobody
    other = [rules.in_holdout("cmp_B", c, 10) for c in customers]
    assert other != first
    assert not any(rules.in_holdout("cmp_A", c, 0) for c in customers)


def test_uplift_is_the_difference_of_proportions_with_a_wald_interval() -> None:
    # Given 90 of 900 treated and 5 of 100 held out converting
    change = rules.uplift(90, 900, 5, 100)
    # Then (by hand) p_t = 0.1, p_h = 0.05, se = sqrt(0.09/900 + 0.0475/100) = 0.023979
    assert change is not None
    assert change.difference == pytest.approx(0.05)
    assert change.low == pytest.approx(0.05 - 1.959964 * 0.0239792, abs=1e-6)
    assert change.high == pytest.approx(0.05 + 1.959964 * 0.0239792, abs=1e-6)
    # and without a holdout there is no uplift
    assert rules.uplift(3, 10, 0, 0) is None


def test_quiet_hours_over_midnight_end_the_next_morning_in_the_tenant_zone() -> None:
    quiet = rules.QuietHours(time(21, 0), time(8, 0), "Europe/Berlin")
    # 22:30 Berlin (winter, UTC+1) is quiet until 08:00 Berlin the next day
    assert quiet.ends_after(datetime(2026, 12, 4, 21, 30, tzinfo=UTC)) == datetime(
        2026, 12, 5, 7, 0, tzinfo=UTC
    )
    # 06:00 Berlin is quiet until 08:00 the same day; noon is not quiet
    assert quiet.ends_after(datetime(2026, 12, 5, 5, 0, tzinfo=UTC)) == datetime(
        2026, 12, 5, 7, 0, tzinfo=UTC
    )
    assert quiet.ends_after(datetime(2026, 12, 5, 11, 0, tzinfo=UTC)) is None


def test_the_frequency_cap_counts_in_fixed_windows() -> None:
    cap = rules.FrequencyCap(max_messages=2, window_hours=24)
    morning = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    evening = datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
    # Two times of one UTC day share a window; the next day starts a new one
    assert cap.window_of(morning) == cap.window_of(evening) == "2026-12-04T00:00:00Z"
    assert cap.window_of(datetime(2026, 12, 5, 0, 0, tzinfo=UTC)) == "2026-12-05T00:00:00Z"
    assert cap.window_end(morning) == datetime(2026, 12, 5, tzinfo=UTC)


def test_recurring_schedules_find_their_next_run() -> None:
    after = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)  # a Friday
    daily = rules.Schedule(
        rules.ScheduleKind.RECURRING, every=rules.Every.DAILY, time_of_day=time(9)
    )
    weekly = rules.Schedule(
        rules.ScheduleKind.RECURRING, every=rules.Every.WEEKLY, time_of_day=time(9), weekday=0
    )
    monthly = rules.Schedule(
        rules.ScheduleKind.RECURRING, every=rules.Every.MONTHLY, time_of_day=time(9), day_of_month=1
    )
    assert daily.next_after(after) == datetime(2026, 12, 5, 9, tzinfo=UTC)
    assert weekly.next_after(after) == datetime(2026, 12, 7, 9, tzinfo=UTC)
    assert monthly.next_after(after) == datetime(2027, 1, 1, 9, tzinfo=UTC)


def _campaign(state: rules.CampaignState) -> rules.Campaign:
    now = datetime(2026, 12, 4, tzinfo=UTC)
    return rules.Campaign(
        id="cmp_1",
        name="x",
        audience=rules.Audience(segment_id="value:vip"),
        channel=rules.Channel.EMAIL,
        template="Hi",
        schedule=rules.Schedule(rules.ScheduleKind.NOW),
        holdout_percent=0,
        created_at=now,
        updated_at=now,
        state=state,
    )


def test_only_drafts_launch_and_finished_campaigns_do_not_cancel() -> None:
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)
    launched = rules.launched(_campaign(rules.CampaignState.DRAFT), now)
    assert launched.state is rules.CampaignState.SCHEDULED and launched.next_run_at == now
    with pytest.raises(IllegalTransition) as refused:
        rules.launched(_campaign(rules.CampaignState.RUNNING), now)
    assert refused.value.from_status == "running" and refused.value.allowed == ["cancel"]
    with pytest.raises(IllegalTransition):
        rules.cancelled(_campaign(rules.CampaignState.COMPLETED), now)


@pytest.mark.parametrize(
    ("status", "replaces_counted_deferral", "expected"),
    [
        ("sent", False, {"sent": 1}),
        ("no_consent", False, {"skipped_consent": 1}),
        ("deferred", False, {"deferred": 1}),
        ("sent", True, {"sent": 1, "deferred": -1}),
        ("over_cap", True, {"skipped_cap": 1, "deferred": -1}),
        ("cancelled", True, {"deferred": -1}),
        ("cancelled", False, {}),
        ("deferred", True, {}),
    ],
)
def test_a_message_counts_its_outcome_and_leaves_the_deferred_figure_once_it_stops_waiting(
    status: str, replaces_counted_deferral: bool, expected: dict[str, int]
) -> None:
    # When a message item is counted
    counters = rules.message_counters(status, replaces_counted_deferral)
    # Then its outcome counts 1, and a counted deferral it replaced no longer waits
    assert counters == expected

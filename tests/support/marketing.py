"""Builders of offers and campaigns for the marketing tests (integration and e2e)."""

from __future__ import annotations

from typing import Any


def offer_body(**fields: Any) -> dict[str, Any]:
    """A 10 % discount offer whose coupons last 30 days, unless `fields` say otherwise."""
    return {"name": "Ten off", "type": "discount", "percent": "10", "coupon_days": 30, **fields}


def coupon_campaign_body(offer_id: str | None, **overrides: Any) -> dict[str, Any]:
    """An email to every prospect now, carrying the offer's coupon code, no holdout."""
    body: dict[str, Any] = {
        "name": "Coupon for you",
        "audience": {"segment_id": "lifecycle:prospect"},
        "message": {"template": "Hi {{first_name}}, your code: {{coupon_code}}"},
        "channel": "email",
        "schedule": {"kind": "now"},
        "holdout_percent": 0,
        "offer_id": offer_id,
    }
    body.update(overrides)
    return body

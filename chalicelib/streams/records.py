"""Stream record images parsed into pydantic models: what the data table consumer reads
from a record before it touches anything (a record that does not parse is poisoned)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Json, field_validator

from chalicelib.dal.keys import CONTRIBUTION_SK, SEGMENT_STATE_SK

_CUSTOMER_PK = re.compile(r"^T#(?P<tenant>ten_[0-9A-Z]{26})#CUS#(?P<customer>cus_[0-9A-Z]{26})$")


class ItemKeys(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pk: str
    sk: str


class ItemImage(ItemKeys):
    """Any data table item: its keys and the entity it holds."""

    entity: str | None = None


class InteractionImage(ItemImage):
    """An interaction: its details must be a JSON object and its time a timestamp."""

    interaction_id: str
    type: str
    occurred_at: datetime
    details: Json[dict[str, Any]]


class CustomerTicketImage(ItemImage):
    ticket_id: str
    category: str
    status: str
    created_at: datetime
    resolution_target_us: int
    resolved_at: datetime | None = None


class PointsImage(ItemImage):
    lots: Json[dict[str, int]]
    tier: str
    updated_at: datetime | None = None


class SegmentEventImage(ItemImage):
    tenant_id: str
    event_id: str
    status: str


_IMAGES: dict[str, type[ItemImage]] = {
    "segment_event": SegmentEventImage,
    "interaction": InteractionImage,
    "customer_ticket": CustomerTicketImage,
    "points": PointsImage,
}


class CustomerChange(BaseModel):
    """A change to an item in a customer's partition (other than the consumer's own)."""

    tenant_id: str
    customer_id: str

    @field_validator("tenant_id", "customer_id")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("empty")
        return value


def parse_image(image: dict[str, Any]) -> ItemImage:
    """The image as its entity's model (ItemImage for entities the consumer does not read)."""
    base = ItemImage.model_validate(image)
    model = _IMAGES.get(base.entity or "")
    return model.model_validate(image) if model else base


def customer_change(image: ItemImage) -> CustomerChange | None:
    """The customer whose metrics the item feeds; None for items outside a customer
    partition and for the consumer's own state item (which would loop)."""
    match = _CUSTOMER_PK.match(image.pk)
    if match is None or image.sk in (SEGMENT_STATE_SK, CONTRIBUTION_SK):
        return None
    return CustomerChange(tenant_id=match["tenant"], customer_id=match["customer"])

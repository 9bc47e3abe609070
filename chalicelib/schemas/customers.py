"""Customer request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from chalicelib.domain import customers as domain
from chalicelib.domain.clock import utc_now
from chalicelib.domain.customers import Customer, CustomerChanges, Gender, UniqueField
from chalicelib.domain.metrics import CustomerMetrics
from chalicelib.schemas.common import PageQuery, QueryParameters, RequestBody

ExternalId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(domain.normalise_email)]
Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(domain.normalise_phone)]
Tag = Annotated[str, StringConstraints(max_length=40), AfterValidator(domain.normalise_tag)]
AttributeKey = Annotated[str, StringConstraints(pattern=domain.ATTRIBUTE_KEY_PATTERN.pattern)]
AttributeText = Annotated[str, StringConstraints(max_length=domain.MAX_ATTRIBUTE_STRING)]
AttributeValue = bool | int | float | AttributeText
Line = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _birthday(value: date) -> date:
    return domain.check_birthday(value, utc_now().date())


Birthday = Annotated[date, AfterValidator(_birthday)]


class AddressBody(RequestBody):
    line1: Line | None = None
    line2: Line | None = None
    city: Line | None = None
    region: Line | None = None
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        None, description="ISO 3166-1 alpha-2 code, e.g. DE."
    )


class ConsentBody(RequestBody):
    email_marketing: bool = False
    sms_marketing: bool = False


class ConsentPatch(RequestBody):
    email_marketing: bool | None = None
    sms_marketing: bool | None = None


Tags = Annotated[list[Tag], Field(max_length=domain.MAX_TAGS)]
Attributes = Annotated[
    dict[AttributeKey, AttributeValue],
    Field(max_length=domain.MAX_ATTRIBUTES),
]
AttributesPatch = Annotated[
    dict[AttributeKey, AttributeValue | None],
    Field(max_length=domain.MAX_ATTRIBUTES),
]


class CustomerCreate(RequestBody):
    """A new customer. At least one of name, email, phone or external_id is required."""

    external_id: ExternalId | None = Field(None, description="The merchant's own id; unique.")
    name: Name | None = None
    email: Email | None = Field(None, description="Unique within the tenant, case-insensitive.")
    phone: Phone | None = Field(None, description="International format; stored as E.164.")
    birthday: Birthday | None = None
    gender: Gender | None = None
    address: AddressBody | None = None
    tags: Tags = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=dict)
    consent: ConsentBody = Field(default_factory=ConsentBody)

    def to_changes(self) -> CustomerChanges:
        fields: dict[str, object] = {
            "external_id": self.external_id,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "birthday": self.birthday,
            "gender": self.gender,
            "address": domain.Address(**self.address.model_dump()) if self.address else None,
            "tags": frozenset(self.tags),
        }
        return CustomerChanges(
            fields={k: v for k, v in fields.items() if v is not None},
            attributes=dict(self.attributes),
            consent=self.consent.model_dump(),
        )


class CustomerPatch(RequestBody):
    """A partial update: only the fields sent change; null clears a field. `attributes`
    merge (null removes a key) and `consent` flags not sent keep their value."""

    external_id: ExternalId | None = None
    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    birthday: Birthday | None = None
    gender: Gender | None = None
    address: AddressBody | None = None
    tags: Tags | None = None
    attributes: AttributesPatch | None = None
    consent: ConsentPatch | None = None

    def to_changes(self) -> CustomerChanges:
        sent = self.model_fields_set
        fields: dict[str, object] = {}
        for name in domain.REPLACEABLE_FIELDS & sent:
            value = getattr(self, name)
            if name == "address" and value is not None:
                value = domain.Address(**value.model_dump())
            if name == "tags":
                value = frozenset(value or ())
            fields[name] = value
        consent = self.consent.model_dump(exclude_none=True) if self.consent else {}
        return CustomerChanges(
            fields=fields, attributes=dict(self.attributes or {}), consent=consent
        )


class AddressOut(BaseModel):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class ConsentOut(BaseModel):
    email_marketing: bool
    sms_marketing: bool


class MetricsOut(BaseModel):
    """Kept current by the data stream within seconds of each change (docs/streams.md)."""

    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    purchase_count: int
    total_spend: Decimal
    purchase_count_90d: int
    spend_90d: Decimal
    average_order_value: Decimal | None
    last_activity_at: datetime | None
    points_balance: int
    tier: str | None
    open_tickets: int
    last_complaint_at: datetime | None
    last_feedback_score: int | None

    @classmethod
    def of(cls, metrics: CustomerMetrics) -> MetricsOut:
        values = {name: getattr(metrics, name) for name in cls.model_fields}
        return cls.model_validate(values)


class CustomerOut(BaseModel):
    id: str
    external_id: str | None
    name: str | None
    email: str | None
    phone: str | None
    birthday: date | None
    gender: Gender | None
    address: AddressOut | None
    tags: list[str]
    attributes: dict[str, bool | int | float | str]
    consent: ConsentOut
    created_at: datetime
    updated_at: datetime
    version: int
    metrics: MetricsOut | None = Field(
        None,
        description="On GET of one customer: purchases, spend, points, tickets. Null in "
        "lists and look-ups and in the answers of POST and PATCH (the metrics are an item of "
        "their own, read with the profile only by GET of one customer).",
    )

    @classmethod
    def of(cls, customer: Customer, metrics: CustomerMetrics | None = None) -> CustomerOut:
        return cls(
            id=customer.id,
            external_id=customer.external_id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            birthday=customer.birthday,
            gender=customer.gender,
            address=AddressOut(**vars(customer.address)) if customer.address else None,
            tags=sorted(customer.tags),
            attributes=customer.attributes,
            consent=ConsentOut(**vars(customer.consent)),
            created_at=customer.created_at,
            updated_at=customer.updated_at,
            version=customer.version,
            metrics=MetricsOut.of(metrics) if metrics else None,
        )


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class CustomerListQuery(PageQuery):
    """Without a filter: every customer, newest first. With one filter: a look-up."""

    email: Email | None = None
    phone: Phone | None = None
    external_id: ExternalId | None = None
    tag: Tag | None = None

    @model_validator(mode="after")
    def _one_filter(self) -> CustomerListQuery:
        given = [
            n for n in ("email", "phone", "external_id", "tag") if getattr(self, n) is not None
        ]
        if len(given) > 1:
            raise ValueError(f"use one filter at a time, not {', '.join(given)}")
        return self

    def unique_filter(self) -> tuple[UniqueField, str] | None:
        for field in UniqueField:
            value = getattr(self, field.value)
            if value is not None:
                return field, value
        return None


class CustomerDeleteQuery(QueryParameters):
    erase: Literal["true", "false"] = Field(
        "false",
        description=(
            "`true` (admin keys only): erase the customer's personal data everywhere it is "
            "held, keeping only what the books need (ledger amounts, order claims, counts); "
            "without it the profile is deleted as before."
        ),
    )

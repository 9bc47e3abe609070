"""Customer profiles: the record, its normalisation rules and how a change applies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Final

AttributeValue = str | int | float | bool

MAX_TAGS: Final = 20
MAX_ATTRIBUTES: Final = 50
MAX_ATTRIBUTE_STRING: Final = 500
TAG_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,39}$")
ATTRIBUTE_KEY_PATTERN: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_EMAIL_PATTERN: Final = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    NON_BINARY = "non_binary"
    OTHER = "other"
    UNDISCLOSED = "undisclosed"


class UniqueField(StrEnum):
    """Fields that identify at most one customer within a tenant."""

    EMAIL = "email"
    PHONE = "phone"
    EXTERNAL_ID = "external_id"


@dataclass(frozen=True)
class Address:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class Consent:
    email_marketing: bool = False
    sms_marketing: bool = False


@dataclass(frozen=True)
class Customer:
    id: str
    created_at: datetime
    updated_at: datetime
    version: int
    external_id: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    birthday: date | None = None
    gender: Gender | None = None
    address: Address | None = None
    tags: frozenset[str] = frozenset()
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    consent: Consent = Consent()

    def unique_values(self) -> dict[UniqueField, str]:
        values = {
            UniqueField.EMAIL: self.email,
            UniqueField.PHONE: self.phone,
            UniqueField.EXTERNAL_ID: self.external_id,
        }
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class CustomerChanges:
    """A partial update. `fields` holds the profile fields to set (None clears one).

    `attributes` and `consent` merge into what is stored: an attribute set to None is
    removed; consent flags not named keep their value.
    """

    fields: dict[str, object] = field(default_factory=dict)
    attributes: dict[str, AttributeValue | None] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (self.fields or self.attributes or self.consent)


REPLACEABLE_FIELDS: Final = frozenset(
    {"external_id", "name", "email", "phone", "birthday", "gender", "address", "tags"}
)
MERCHANT_FIELDS: Final = ("attributes", "tags")
"""Fields app credentials may not change: tags and attributes feed segments and offers."""


def merchant_fields_changed(before: Customer, after: Customer) -> list[str]:
    return [name for name in MERCHANT_FIELDS if getattr(before, name) != getattr(after, name)]


def apply_changes(customer: Customer, changes: CustomerChanges, now: datetime) -> Customer:
    unknown = set(changes.fields) - REPLACEABLE_FIELDS
    if unknown:
        raise ValueError(f"not replaceable: {sorted(unknown)}")
    attributes = dict(customer.attributes)
    for key, value in changes.attributes.items():
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    check_attributes(attributes)
    consent = replace(customer.consent, **changes.consent)
    updated = replace(customer, **changes.fields)  # type: ignore[arg-type]
    return replace(updated, attributes=attributes, consent=consent, updated_at=now)


def check_attributes(attributes: dict[str, AttributeValue]) -> None:
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValueError(f"at most {MAX_ATTRIBUTES} attributes are allowed")


def normalise_email(raw: str) -> str:
    """Lower-cased and trimmed: uniqueness treats addresses case-insensitively."""
    value = raw.strip().lower()
    if len(value) > 254 or not _EMAIL_PATTERN.match(value):
        raise ValueError("not a valid email address")
    return value


def normalise_phone(raw: str, *, default_country: str | None = None) -> str:
    """E.164. Numbers must carry their country code (+…) unless a `default_country` (ISO
    3166-1 alpha-2; a bulk import's tenant setting) says where national numbers are from."""
    import phonenumbers  # deferred: its metadata is large and only phone input needs it

    text = raw.strip()
    international = text.startswith(("+", "00"))
    if not international and default_country is None:
        raise ValueError(
            "phone must be in international format, starting with + and the country code"
        )
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, None if international else default_country)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a valid phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_tag(raw: str) -> str:
    value = raw.strip().lower()
    if not TAG_PATTERN.match(value):
        raise ValueError(
            "tags are 1-40 characters of a-z, 0-9, '_', '.', ':' or '-', "
            "starting with a letter or digit"
        )
    return value


def check_birthday(value: date, today: date) -> date:
    if value > today:
        raise ValueError("birthday cannot be in the future")
    if value.year < 1900:
        raise ValueError("birthday must be after 1900")
    return value

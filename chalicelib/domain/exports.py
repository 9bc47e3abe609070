"""Customer exports as CSV (issue 16): the column set, one row per profile, and cells made
safe to open in a spreadsheet.

RFC 4180: a header row, CRLF line ends, fields with a comma, quote or line break quoted
and inner quotes doubled. CSV injection (OWASP): a cell beginning with `=`, `+`, `-`, `@`,
a tab or a carriage return would be read as a formula by spreadsheet software, so it is
prefixed with a single quote (`+4915…` phone numbers included).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Final

from chalicelib.domain.customers import Customer

CSV_MEDIA_TYPE: Final = "text/csv"
CSV_CONTENT_TYPE: Final = "text/csv; charset=utf-8; header=present"
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
CUSTOMER_COLUMNS: Final = (
    "id",
    "external_id",
    "name",
    "email",
    "phone",
    "birthday",
    "gender",
    "address_line1",
    "address_line2",
    "address_city",
    "address_region",
    "address_postal_code",
    "address_country",
    "tags",
    "email_marketing",
    "sms_marketing",
    "attributes",
    "created_at",
    "updated_at",
)


def safe_cell(value: str) -> str:
    """`value`, prefixed with `'` when a spreadsheet would take it for a formula."""
    return f"'{value}" if value.startswith(FORMULA_TRIGGERS) else value


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def customer_row(customer: Customer) -> list[str]:
    """The profile's cells in CUSTOMER_COLUMNS order (tags space-separated, attributes as
    a JSON object)."""
    address = customer.address
    values: Sequence[object] = (
        customer.id,
        customer.external_id,
        customer.name,
        customer.email,
        customer.phone,
        customer.birthday.isoformat() if customer.birthday else None,
        customer.gender.value if customer.gender else None,
        address.line1 if address else None,
        address.line2 if address else None,
        address.city if address else None,
        address.region if address else None,
        address.postal_code if address else None,
        address.country if address else None,
        " ".join(sorted(customer.tags)),
        customer.consent.email_marketing,
        customer.consent.sms_marketing,
        json.dumps(customer.attributes, sort_keys=True) if customer.attributes else None,
        customer.created_at.isoformat(),
        customer.updated_at.isoformat(),
    )
    return [safe_cell(_text(value)) for value in values]


def to_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """RFC 4180 text: the header row, then the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def customers_csv(customers: Iterable[Customer]) -> str:
    return to_csv(CUSTOMER_COLUMNS, (customer_row(customer) for customer in customers))

"""Builders of import files (issue 16): customer rows as CSV lines under one header."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

CUSTOMER_COLUMNS = {
    "Customer no": "external_id",
    "Name": "name",
    "E-mail": "email",
    "Phone": "phone",
    "Tags": "tags",
    "Store": "attributes.store",
}


@dataclass(frozen=True)
class CustomerRow:
    external_id: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    tags: list[str] = field(default_factory=list)
    store: str = ""

    def cells(self) -> list[str]:
        return [
            self.external_id,
            self.name,
            self.email,
            self.phone,
            ";".join(self.tags),
            self.store,
        ]


def customers_csv(rows: list[CustomerRow]) -> bytes:
    """A CSV file with a header of CUSTOMER_COLUMNS' names and one line per row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(CUSTOMER_COLUMNS))
    writer.writerows(row.cells() for row in rows)
    return out.getvalue().encode()

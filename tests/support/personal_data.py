"""A customer with distinctive personal values everywhere they can be held: profile,
interactions, ledger entries, a ticket with comments, notes and a rated resolution."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from tests.support.api import Api

PROFILE = {
    "name": "Zelda Quixote-Marlowe",
    "email": "Zelda.Quixote@example.org",
    "phone": "+49 30 9876543",
    "external_id": "ext-zq-7781",
    "birthday": "1987-06-05",
    "address": {
        "line1": "17 Wisteria Lane",
        "city": "Quahogville",
        "postal_code": "QX-4471",
        "country": "DE",
    },
    "tags": ["quixotic-tag"],
    "attributes": {"favourite": "marzipan-unicorn"},
    "consent": {"email_marketing": True, "sms_marketing": False},
}

# Every personal value the test writes, as it may be stored (lower-cased for the search).
PERSONAL_VALUES = (
    "zelda",
    "quixote",
    "+49309876543",
    "9876543",
    "ext-zq-7781",
    "1987-06-05",
    "wisteria",
    "quahogville",
    "qx-4471",
    "quixotic-tag",
    "marzipan-unicorn",
    "velvet armchair",
    "koi pond",
    "embroidered xylophone",
    "above the bakery",
    "zq_secret_event",
    "voucher-zq-99",
    "zq-ticket-tag",
    "sounded upset",
)


@dataclass
class Written:
    """What the test wrote about one customer, as the API answered it."""

    customer: dict[str, Any]
    interactions: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.customer["id"])


def ok(answer: Any, status: int = 201) -> dict[str, Any]:
    assert answer.status == status, answer.text
    return dict(answer.json)


def write_customer(api: Api, extra_interactions: int = 0) -> Written:
    written = Written(api.create_customer(**PROFILE))
    path = f"/v1/customers/{written.id}"
    bodies: list[dict[str, Any]] = [
        {
            "type": "purchase",
            "amount": "120.00",
            "currency": "EUR",
            "order_id": f"order-{written.id}",
            "items": [{"sku": "x-1", "name": "Embroidered Xylophone", "quantity": 1}],
            "attributes": {"note": "lives above the bakery"},
        },
        {"type": "feedback", "rating": 2, "text": "The velvet armchair squeaked"},
        {"type": "complaint", "text": "Courier dropped the parcel in the koi pond"},
        {"type": "app_event", "name": "zq_secret_event"},
        *({"type": "visit"} for _ in range(extra_interactions)),
    ]
    for number, body in enumerate(bodies):
        headers = {"Idempotency-Key": f"i-{written.id}-{number}"} if number < 3 else {}
        written.interactions.append(ok(api.post(f"{path}/interactions", body, headers=headers)))
    ok(
        api.post(
            f"{path}/points/redeem",
            {"points": 20, "reason": "Birthday treat for Zelda", "reference": "voucher-zq-99"},
            headers={"Idempotency-Key": f"r-{written.id}"},
        )
    )
    ok(api.post(f"{path}/points/adjust", {"points": 5, "reason": "Zelda waited long"}))
    ticket = ok(
        api.post(
            "/v1/tickets",
            {
                "customer_id": written.id,
                "category": "complaint",
                "subject": "Zelda's xylophone arrived cracked",
                "description": "Please call Zelda Quixote-Marlowe after 6pm",
                "channel": "email",
                "tags": ["zq-ticket-tag"],
            },
        )
    )
    ticket_path = f"/v1/tickets/{ticket['id']}"
    comments = [
        ok(api.post(f"{ticket_path}/comments", {"body": "Dear Zelda, we are sorry"})),
        ok(api.post(f"{ticket_path}/comments", {"body": "Zelda sounded upset", "internal": True})),
    ]
    ok(api.post(f"{ticket_path}/transitions", {"to": "open", "note": "Rang Zelda"}), 200)
    ok(
        api.post(f"{ticket_path}/transitions", {"to": "resolved", "note": "Zelda is happy"}),
        200,
    )
    ok(api.post(f"{ticket_path}/rating", {"score": 5, "comment": "Thanks, Zelda"}))
    written.tickets.append(ok(api.get(ticket_path), 200))
    written.comments[ticket["id"]] = comments
    return written


def readable_item(item: dict[str, Any]) -> str:
    """An item as text, binary values (compressed analytics contributions) unpacked."""

    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return zlib.decompress(value).decode()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return json.dumps(plain(item), sort_keys=True)

"""Cursors are opaque and tamper-proof."""

from __future__ import annotations

import base64

from tests.support.api import Api


def _cursor(api: Api, query: str = "") -> str:
    for i in range(3):
        api.create_customer(name=f"C{i}", tags=["vip"])
    cursor = api.get(f"/v1/customers?limit=1{query}").json["next_cursor"]
    assert cursor
    return str(cursor)


def test_an_altered_cursor_is_400(tenant_a: Api) -> None:
    cursor = _cursor(tenant_a)
    payload, signature = cursor.split(".")
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    forged = base64.urlsafe_b64encode(decoded.replace(b"CUSTOMERS", b"CUSTOMERZ")).rstrip(b"=")

    for bad in (forged.decode() + "." + signature, cursor[:-2] + "AA", "garbage", cursor + "."):
        tenant_a.get(f"/v1/customers?limit=1&cursor={bad}").problem(400)


def test_a_cursor_is_refused_by_another_query(tenant_a: Api) -> None:
    list_cursor = _cursor(tenant_a)
    tag_cursor = tenant_a.get("/v1/customers?limit=1&tag=vip").json["next_cursor"]

    tenant_a.get(f"/v1/customers?limit=1&tag=vip&cursor={list_cursor}").problem(400)
    tenant_a.get(f"/v1/customers?limit=1&cursor={tag_cursor}").problem(400)
    tenant_a.get(f"/v1/customers?limit=1&tag=other&cursor={tag_cursor}").problem(400)
    tenant_a.get(f"/v1/customers?email=a@example.com&cursor={list_cursor}").problem(400)


def test_a_genuine_cursor_continues(tenant_a: Api) -> None:
    cursor = _cursor(tenant_a)

    assert len(tenant_a.get(f"/v1/customers?limit=5&cursor={cursor}").json["items"]) == 2

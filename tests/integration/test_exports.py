"""CSV exports of customers (issue 16) over the Chalice test client and moto: content,
paging, roles, the audit entry and the alerts it raises."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest

from chalicelib.domain.exports import CUSTOMER_COLUMNS
from tests.support.api import Answer, Api

Row = dict[str, str]


def _rows(answer: Answer) -> list[Row]:
    assert answer.status == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv; charset=utf-8")
    text = answer.text
    assert text.startswith(",".join(CUSTOMER_COLUMNS) + "\r\n")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _walk(api: Api, path: str, limit: int) -> tuple[list[list[Row]], list[Answer]]:
    pages: list[list[Row]] = []
    answers: list[Answer] = []
    query = f"limit={limit}"
    while True:
        answer = api.get(f"{path}?{query}")
        pages.append(_rows(answer))
        answers.append(answer)
        link = answer.headers.get("link")
        if link is None:
            assert "next-cursor" not in answer.headers
            return pages, answers
        target, rel = link.split(";")
        assert rel.strip() == 'rel="next"' and target.startswith("<export?")
        query = target.strip("<>").removeprefix("export?")
        cursor = unquote(query.split("cursor=")[1])
        assert cursor == answer.headers["next-cursor"]


def _vip(api: Api, name: str, **fields: Any) -> dict[str, Any]:
    return api.create_customer(name=name, tags=["vip"], **fields)


@pytest.fixture
def vip_segment(tenant_a: Api, streams: Any) -> str:
    answer = tenant_a.post(
        "/v1/segments",
        {"name": "VIPs", "rule": {"field": "tags", "op": "contains", "value": "vip"}},
    )
    assert answer.status == 201, answer.text
    return str(answer.json["id"])


def test_all_customers_export_as_csv_with_every_column(tenant_a: Api) -> None:
    # Given a customer with every field, one formula-like, and a plain one
    ann = tenant_a.create_customer(
        name='=HYPERLINK("http://evil")',
        email="ann@example.com",
        phone="+4915112345678",
        external_id="ext-1",
        birthday="1990-05-17",
        address={"line1": "Main St 1, Flat 2", "city": "Berlin", "country": "DE"},
        tags=["vip", "gold"],
        attributes={"shoe_size": 42},
        consent={"email_marketing": True},
    )
    bea = tenant_a.create_customer(name="Bea")

    # When an admin exports all customers
    rows = _rows(tenant_a.get("/v1/customers/export"))

    # Then each is one row, newest first, with the documented columns, formulas defused
    assert [row["id"] for row in rows] == [bea["id"], ann["id"]]
    row = rows[1]
    assert row["name"] == '\'=HYPERLINK("http://evil")'
    assert row["phone"] == "'+4915112345678"
    assert (row["email"], row["external_id"], row["birthday"]) == (
        "ann@example.com",
        "ext-1",
        "1990-05-17",
    )
    assert (row["address_line1"], row["address_city"]) == ("Main St 1, Flat 2", "Berlin")
    assert row["tags"] == "gold vip" and row["attributes"] == '{"shoe_size": 42}'
    assert (row["email_marketing"], row["sms_marketing"]) == ("true", "false")
    assert rows[0]["email"] == "" and rows[0]["tags"] == ""


def test_the_export_pages_by_link_without_gaps_or_repeats(tenant_a: Api) -> None:
    # Given five customers
    ids = [tenant_a.create_customer(name=f"C{n}")["id"] for n in range(5)]

    # When an admin follows the export's next links two rows at a time
    pages, _ = _walk(tenant_a, "/v1/customers/export", 2)

    # Then the pages hold every customer once, newest first, at most two per page
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [row["id"] for page in pages for row in page] == list(reversed(ids))


def test_a_segment_exports_its_members_only(tenant_a: Api, vip_segment: str, streams: Any) -> None:
    # Given three VIPs and one other customer, with the segment kept current
    vips = {_vip(tenant_a, f"V{n}", email=f"v{n}@example.com")["id"] for n in range(3)}
    tenant_a.create_customer(name="Other")
    streams.drain()

    # When an admin exports the segment two rows at a time
    pages, _ = _walk(tenant_a, f"/v1/segments/{vip_segment}/export", 2)

    # Then the rows are the VIPs, each once, with their profile
    rows = [row for page in pages for row in page]
    assert sorted(row["id"] for row in rows) == sorted(vips)
    assert {row["email"] for row in rows} == {f"v{n}@example.com" for n in range(3)}


def test_an_unknown_segment_is_not_found(tenant_a: Api) -> None:
    answer = tenant_a.get("/v1/segments/seg_nothere/export")

    assert "seg_nothere" in answer.problem(404)["detail"]


@pytest.mark.parametrize("role", ["staff", "readonly", "app"])
def test_only_admins_export(
    tenant_a: Api, key_with_role: Callable[[Api, str], Api], vip_segment: str, role: str
) -> None:
    # Given a key of another role
    other = key_with_role(tenant_a, role)

    # When it asks for either export
    everyone = other.get("/v1/customers/export")
    segment = other.get(f"/v1/segments/{vip_segment}/export")

    # Then both are refused, naming the role
    assert role in everyone.problem(403)["detail"]
    assert role in segment.problem(403)["detail"]


def test_a_customer_token_cannot_export(
    tenant_a: Api, customer_token: Callable[[Api, str], Api]
) -> None:
    ann = tenant_a.create_customer(name="Ann")

    answer = customer_token(tenant_a, ann["id"]).get("/v1/customers/export")

    answer.problem(403)


def test_each_export_page_is_audited_and_the_first_raises_an_export_alert(
    tenant_a: Api, vip_segment: str, streams: Any
) -> None:
    # Given three VIPs in the segment
    vips = [_vip(tenant_a, f"V{n}")["id"] for n in range(3)]
    streams.drain()

    # When an admin exports the segment in two pages and the trail's stream runs
    _, answers = _walk(tenant_a, f"/v1/segments/{vip_segment}/export", 2)
    streams.drain()

    # Then each page has an entry naming the segment, its rows and its customers
    entries = tenant_a.get("/v1/audit?action=export_segment").json["items"]
    by_request = {entry["request_id"]: entry for entry in entries}
    first, second = (by_request[answer.headers["x-request-id"]] for answer in answers)
    assert first["detail"]["export"] == second["detail"]["export"] == f"segment:{vip_segment}"
    assert (first["detail"]["rows"], second["detail"]["rows"]) == ("2", "1")
    assert (first["detail"]["page"], second["detail"]["page"]) == ("first", "next")
    assert sorted(first["customer_ids"] + second["customer_ids"]) == sorted(vips)
    # And one export alert names the export and the first page's rows
    alerts = [
        alert
        for alert in tenant_a.get("/v1/audit/alerts").json["items"]
        if alert["detail"]["rule"] == "export"
    ]
    assert len(alerts) == 1
    assert alerts[0]["detail"]["export"] == f"segment:{vip_segment}"
    assert alerts[0]["detail"]["rows"] == "2"


def test_exported_customers_count_towards_the_bulk_read_alert(tenant_a: Api, streams: Any) -> None:
    # Given a threshold of 2 distinct customers per hour
    config = tenant_a.get("/v1/config")
    document = config.json["config"]
    document["audit"] = {"distinct_customers_alert": 2, "alert_window_minutes": 60}
    put = tenant_a.request(
        "PUT", "/v1/config", document, headers={"If-Match": config.headers["etag"]}
    )
    assert put.status == 200, put.text
    ids = [tenant_a.create_customer(name=n)["id"] for n in ("A", "B", "C")]

    # When an admin exports all customers (one page) and the trail's stream runs
    assert len(_rows(tenant_a.get("/v1/customers/export"))) == 3
    streams.drain()

    # Then the many-customers alert is raised for the three exported customers
    alerts = tenant_a.get("/v1/audit/alerts").json["items"]
    many = [alert for alert in alerts if alert["detail"]["rule"] == "many_customers"]
    assert len(many) == 1
    assert many[0]["detail"]["distinct_customers"] == "3"
    assert set(many[0]["customer_ids"]) == set(ids)

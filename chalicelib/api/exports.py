"""CSV exports of customers (issue 16): all customers, or one segment's members.

Each response holds at most 100 rows (a Lambda response is capped at 6 MB; 100 profiles
of the largest allowed size stay well below it, and 100 is also how many customers one
audit entry names). More rows are announced by `Link: <…>; rel="next"` and `Next-Cursor`.
"""

from __future__ import annotations

from urllib.parse import quote

from chalicelib.api.routing import Call, Operations, Reply
from chalicelib.domain.audit import FIRST_EXPORT_PAGE
from chalicelib.domain.customers import Customer
from chalicelib.domain.exports import CSV_CONTENT_TYPE, CSV_MEDIA_TYPE, customers_csv
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.schemas.exports import ExportQuery
from chalicelib.services import exports as service

exports_api = Operations(__name__)

_COLUMNS_DOC = (
    "Columns: id, external_id, name, email, phone, birthday, gender, address_line1, "
    "address_line2, address_city, address_region, address_postal_code, address_country, "
    "tags (space-separated), email_marketing, sms_marketing, attributes (JSON), created_at, "
    "updated_at. UTF-8, a header row, RFC 4180 quoting; a cell starting with = + - @, a tab "
    "or a carriage return is prefixed with '. At most `limit` (100) rows per response: the "
    'next page is linked by `Link: <…>; rel="next"` and its cursor sent as `Next-Cursor`. '
    "Each response is audited (the customers it holds count towards the bulk-read alert); "
    "an export's first page raises an `export` alert."
)


def _csv_reply(
    call: Call[None, ExportQuery], exported: str, page: Page[Customer], link_base: str
) -> Reply:
    call.audit_detail(
        [customer.id for customer in page.items],
        export=exported,
        rows=str(len(page.items)),
        page="next" if call.query.cursor else FIRST_EXPORT_PAGE,
    )
    headers: dict[str, str] = {"Content-Disposition": "attachment; filename=customers.csv"}
    if page.next_cursor:
        query = f"limit={call.query.limit}&cursor={quote(page.next_cursor, safe='')}"
        headers["Link"] = f'<{link_base}?{query}>; rel="next"'
        headers["Next-Cursor"] = page.next_cursor
    return Reply(customers_csv(page.items), headers=headers, content_type=CSV_CONTENT_TYPE)


@exports_api.operation(
    "GET",
    "/v1/customers/export",
    summary="Export all customers as CSV",
    tag="customers",
    query=ExportQuery,
    media_type=CSV_MEDIA_TYPE,
    description=f"Every customer, newest first. {_COLUMNS_DOC}",
)
def export_customers(call: Call[None, ExportQuery]) -> Reply:
    page = service.export_customers(call.tenant, PageRequest(call.query.limit, call.query.cursor))
    return _csv_reply(call, "all_customers", page, "export")


@exports_api.operation(
    "GET",
    "/v1/segments/{segment_id}/export",
    summary="Export a segment's members as CSV",
    tag="segments",
    query=ExportQuery,
    media_type=CSV_MEDIA_TYPE,
    extra_responses=(404,),
    description=f"The segment's members, in membership order. {_COLUMNS_DOC}",
)
def export_segment(call: Call[None, ExportQuery], segment_id: str) -> Reply:
    page = service.export_segment(
        call.tenant, segment_id, PageRequest(call.query.limit, call.query.cursor)
    )
    return _csv_reply(call, f"segment:{segment_id}", page, "export")

"""Query of the CSV export routes."""

from __future__ import annotations

from pydantic import Field

from chalicelib.domain.paging import MAX_PAGE_SIZE
from chalicelib.schemas.common import PageQuery


class ExportQuery(PageQuery):
    limit: int = Field(
        MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Rows per response (at most 100)."
    )

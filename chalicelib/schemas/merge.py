"""Bodies of the merge routes (issue 16)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chalicelib.domain.ids import CUSTOMER_ID_PATTERN
from chalicelib.domain.merge import MAX_SOURCES, MergeRecord
from chalicelib.schemas.common import RequestBody

CustomerId = Annotated[str, StringConstraints(pattern=CUSTOMER_ID_PATTERN.pattern)]


class MergeRequest(RequestBody):
    model_config = ConfigDict(populate_by_name=False)

    sources: list[CustomerId] = Field(
        alias="from",
        min_length=1,
        max_length=MAX_SOURCES,
        description="The customers to merge into this one (they stop existing on their own).",
    )


class UnmergeRequest(RequestBody):
    source: CustomerId = Field(description="A customer merged into this one within 30 days.")


class MergeOut(BaseModel):
    id: str
    survivor_id: str
    source_ids: list[str]
    state: Literal["moving", "done"]
    steps: int
    items_moved: int
    started_at: datetime
    started_by: str
    finished_at: datetime | None

    @classmethod
    def of(cls, record: MergeRecord) -> MergeOut:
        return cls(
            id=record.id,
            survivor_id=record.survivor_id,
            source_ids=list(record.source_ids),
            state=record.state.value,
            steps=record.steps,
            items_moved=record.items_moved,
            started_at=record.started_at,
            started_by=record.started_by,
            finished_at=record.finished_at,
        )

"""Customer merge routes (issue 16)."""

from __future__ import annotations

from chalicelib.api.routing import Call, Operations, Reply, etag_for
from chalicelib.domain.merge import MergeRecord, MergeState
from chalicelib.schemas.customers import CustomerOut
from chalicelib.schemas.merge import MergeOut, MergeRequest, UnmergeRequest
from chalicelib.services import merge as service

merge_api = Operations(__name__)


@merge_api.operation(
    "POST",
    "/v1/customers/{customer_id}/merge",
    summary="Merge customers into this one",
    tag="customers",
    body=MergeRequest,
    response=MergeOut,
    extra_responses=(202, 404, 409, 412, 428),
)
def merge_customers(call: Call[MergeRequest, None], customer_id: str) -> Reply:
    """Merges the customers named in `from` into this one (the survivor); send `If-Match`
    with the survivor's ETag. Survivorship: the survivor keeps every field it has and
    takes a source's value only where its own is empty (the first source named wins);
    tags are united; attributes merge survivor-first; consent per channel stays opted in
    only if every profile opted in; unique email, phone and external id taken from a source
    move to the survivor, the sources' others are released. Interactions, ledger entries
    and lots move to the survivor; points, lifetime points and monthly spend are summed
    and the tier derived again. A merged source answers reads with 301 (`Location` and
    `merged_into`) and writes with 409 `customer-merged`. Tickets move too: each names the
    survivor. Answers the merge record, `done` (200); a merge not done within about 10 s
    answers 202 with the record (`moving`, the steps so far) and `Location` of its status
    (`GET /v1/customers/{id}/merges/{merge_id}`) and continues in the background;
    repeating a request that failed part-way resumes it."""
    record = service.merge_customers(
        call.tenant, customer_id, call.body.sources, call.if_match_version(), call.actor
    )
    if record.state is MergeState.DONE:
        return Reply(MergeOut.of(record))
    return Reply(MergeOut.of(record), 202, {"Location": _status_path(record)})


def _status_path(record: MergeRecord) -> str:
    return f"/v1/customers/{record.survivor_id}/merges/{record.id}"


@merge_api.operation(
    "GET",
    "/v1/customers/{customer_id}/merges/{merge_id}",
    summary="Read a merge into this customer",
    tag="customers",
    response=MergeOut,
    extra_responses=(404,),
)
def get_merge(call: Call[None, None], customer_id: str, merge_id: str) -> Reply:
    """The merge record: `moving` with the steps and items moved so far while it runs in
    the background, `done` with `finished_at` once the survivor holds everything."""
    return Reply(MergeOut.of(service.get_merge(call.tenant, customer_id, merge_id)))


@merge_api.operation(
    "POST",
    "/v1/customers/{customer_id}/unmerge",
    summary="Undo a merge into this customer",
    tag="customers",
    body=UnmergeRequest,
    response=CustomerOut,
    extra_responses=(404, 409),
)
def unmerge_customer(call: Call[UnmergeRequest, None], customer_id: str) -> Reply:
    """Within 30 days of a merge, restores `source`: its profile and unique values, the
    points it brought (taken from the lots of the same expiry, or where those were spent
    or expired from the survivor's latest lots; 409 `unmerge-refused` when the survivor
    now holds fewer points than the source brought, or after 30 days), and every item the
    merge moved that is still at the survivor. What was written to the survivor since, and
    the tags, attributes and non-unique fields it took, stay with it. Answers the restored
    source; repeating a request that failed part-way resumes it."""
    source = service.unmerge_customer(call.tenant, customer_id, call.body.source, call.actor)
    return Reply(CustomerOut.of(source), 200, {"ETag": etag_for(source.version)})

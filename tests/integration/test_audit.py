"""The audit trail: what each request and change leaves, tamper evidence, alerts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.api.routes import ROUTES
from chalicelib.dal import audit as trail
from chalicelib.dal import keys
from chalicelib.dal.models import AuditDigestItem, AuditEntryItem
from chalicelib.domain.audit import (
    AuditEntry,
    Digest,
    EntryKind,
    Finding,
    entry_sort_key,
    link_to,
)
from chalicelib.domain.clock import utc_now
from chalicelib.domain.errors import AuditUnavailable
from chalicelib.domain.tenancy import TenantId, tenant_id
from chalicelib.settings import reset_settings
from tests.support.api import Answer, Api

DUMMY = {
    "ticket_id": "tkt_01J00000000000000000000000",
    "segment_id": "seg_does_not_exist",
    "key_id": "key_01J00000000000000000000000",
    "event_id": "evt_01J00000000000000000000000",
    "pair_id": "dup_cus_01J00000000000000000000000_cus_01J00000000000000000000001",
    "campaign_id": "cmp_01J00000000000000000000000",
    "import_id": "imp_01J00000000000000000000000",
    "reward_id": "rwd_01J00000000000000000000000",
    "offer_id": "off_01J00000000000000000000000",
    "merge_id": "mrg_01J00000000000000000000000",
    "code": "ABCDEFGHJK",
    "asset": "swagger-ui.css",
}
UNAUDITED = {("GET", "/v1/openapi.json"), ("GET", "/docs"), ("GET", "/docs/{asset}")}
# Platform operations on no one tenant: nothing of a tenant's data to attribute.
PLATFORM_WIDE = {("POST", "/v1/admin/tenants"), ("GET", "/v1/admin/tenants")}


def _entries(owner: Api) -> list[AuditEntry]:
    assert owner.tenant_id is not None
    now = utc_now()
    found = trail.entries_between(tenant_id(owner.tenant_id), now - timedelta(hours=3), now)
    return list(found.values())


def _request_entries(owner: Api, request_id: str) -> list[AuditEntry]:
    return [
        e for e in _entries(owner) if e.request_id == request_id and e.kind is EntryKind.REQUEST
    ]


def _call(api: Api, method: str, path: str) -> Answer:
    body: Any = {} if method in ("POST", "PUT", "PATCH") else None
    return api.request(method, path, body)


def test_every_route_leaves_exactly_its_request_entry(
    tenant_a: Api, tenant_b: Api, platform: Api
) -> None:
    # Given a customer of tenant A, and tenant B as the target of the platform's routes
    customer = tenant_a.create_customer(name="Walker")
    values = {**DUMMY, "customer_id": customer["id"], "tenant_id": str(tenant_b.tenant_id)}
    # Deletes last, so the other routes still find what they act on
    routes = sorted(ROUTES, key=lambda route: route[0] == "DELETE")
    answers: dict[tuple[str, str], Answer] = {}
    app, _ = tenant_a.create_key("app")
    # When every route is called once (by the role that may call it)
    for method, template in routes:
        path = template.format(**values)
        caller = platform if template.startswith("/v1/admin/") else tenant_a
        if template == "/v1/customer-tokens":
            caller = app
        answers[(method, template)] = _call(caller, method, path)

    # Then each call of a tenant's data left one request entry naming its operation,
    # outcome and ids, under the tenant it concerned; the others left none
    for route, answer in answers.items():
        owner = tenant_b if route[1].startswith("/v1/admin/") else tenant_a
        entries = _request_entries(owner, answer.headers["x-request-id"])
        if route in UNAUDITED or route in PLATFORM_WIDE:
            assert entries == [], route
            continue
        assert len(entries) == 1, (route, answer.status, entries)
        (entry,) = entries
        assert entry.action == ROUTES[route][1], route
        assert entry.outcome == str(answer.status), route
        assert entry.source_ip is not None and entry.expires_at > utc_now().timestamp()
        if "{customer_id}" in route[1]:
            assert customer["id"] in entry.customer_ids, route


def test_reads_name_what_they_returned_and_writes_the_fields_sent(tenant_a: Api) -> None:
    first = tenant_a.create_customer(name="Ann", email="ann@example.com")
    second = tenant_a.create_customer(name="Bob")

    listed = tenant_a.get("/v1/customers")
    changed = tenant_a.patch(f"/v1/customers/{first['id']}", {"name": "Anna", "tags": ["x"]})

    (list_entry,) = _request_entries(tenant_a, listed.headers["x-request-id"])
    assert set(list_entry.customer_ids) == {first["id"], second["id"]}
    (patch_entry,) = _request_entries(tenant_a, changed.headers["x-request-id"])
    assert patch_entry.fields == ("name", "tags")
    stored = " ".join(str(e.canonical()) for e in _entries(tenant_a))
    assert "ann@example.com" not in stored and "Anna" not in stored


def test_changes_are_attributed_to_who_made_them_including_deletes(
    tenant_a: Api, key_with_role: Callable[[Api, str], Api], streams: Any
) -> None:
    # Given a customer created by the admin key, changed and deleted by a staff key
    staff = key_with_role(tenant_a, "staff")
    created = tenant_a.create_customer(name="Cleo")
    path = f"/v1/customers/{created['id']}"
    changed = staff.patch(path, {"name": "Cleopatra"})
    deleted = staff.delete(path)
    assert deleted.status == 204
    # When the streams have run
    streams.drain()
    # Then each change has an entry naming its writer, its request and the fields changed
    changes = [
        e
        for e in _entries(tenant_a)
        if e.kind is EntryKind.CHANGE and e.resource_type == "customer"
    ]
    by_event = {e.detail["event"]: e for e in changes}
    assert set(by_event) == {"insert", "modify", "remove"}
    staff_key = _key_id_of(staff, tenant_a)
    assert by_event["insert"].action == "create_customer"
    assert by_event["insert"].actor != staff_key
    assert by_event["modify"].actor == staff_key
    assert by_event["modify"].fields == ("name",)
    assert by_event["modify"].request_id == changed.headers["x-request-id"]
    assert by_event["remove"].actor == staff_key
    assert by_event["remove"].action == "delete_customer"
    assert by_event["remove"].request_id == deleted.headers["x-request-id"]
    assert all(e.customer_ids == (created["id"],) for e in changes)


def _key_id_of(caller: Api, owner: Api) -> str:
    answer = caller.get(f"/v1/customers/{'cus_' + '0' * 26}")
    (entry,) = _request_entries(owner, answer.headers["x-request-id"])
    return entry.actor


def test_a_redelivered_change_records_nothing_new(tenant_a: Api, streams: Any) -> None:
    from chalicelib.dal.audit import audited_entities
    from chalicelib.services.audit import ItemChange, record_changes

    tenant_a.create_customer(name="Dora")
    streams.drain()
    before = len(_entries(tenant_a))
    profile = next(iter(AuditEntryItem.query(keys.audit_entries_pk(tenant_id(tenant_a.tenant_id)))))
    image = {
        "pk": {"S": f"T#{tenant_a.tenant_id}#CUS#cus_x"},
        "sk": {"S": "PROFILE"},
        "entity": {"S": "customer"},
        "customer_id": {"S": "cus_x"},
        "name": {"S": "D"},
    }
    change = ItemChange("INSERT", "42", profile.at, None, image)

    assert record_changes([change], audited_entities()) == 1
    assert record_changes([change], audited_entities()) == 0
    assert len(_entries(tenant_a)) == before + 1


def test_trail_is_filtered_by_customer_actor_and_action_newest_first(
    tenant_a: Api, streams: Any
) -> None:
    ann = tenant_a.create_customer(name="Ann")
    bob = tenant_a.create_customer(name="Bob")
    tenant_a.get(f"/v1/customers/{ann['id']}")
    tenant_a.get("/v1/customers")
    streams.drain()

    about_bob = tenant_a.get(f"/v1/audit?customer_id={bob['id']}").json["items"]
    actions = [e["action"] for e in about_bob]
    assert "list_customers" in actions and "create_customer" in actions
    assert "get_customer" not in actions
    times = [datetime.fromisoformat(e["at"]) for e in about_bob]
    assert times == sorted(times, reverse=True)

    reads = tenant_a.get("/v1/audit?action=get_customer").json["items"]
    assert [e["customer_ids"] for e in reads] == [[ann["id"]]]

    actor = reads[0]["actor"]
    first = tenant_a.get(f"/v1/audit?actor={actor}&limit=2").json
    second = tenant_a.get(f"/v1/audit?actor={actor}&limit=2&cursor={first['next_cursor']}").json
    assert len(first["items"]) == 2 and second["items"]
    assert not {e["id"] for e in first["items"]} & {e["id"] for e in second["items"]}
    assert all(e["actor"] == actor for e in first["items"] + second["items"])


def test_trail_query_mistakes_are_422(tenant_a: Api) -> None:
    both = tenant_a.get("/v1/audit?actor=a&action=b").problem(422)
    assert "one of customer_id, actor, action" in str(both)
    backwards = tenant_a.get(
        "/v1/audit/verify?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"
    ).problem(422)
    assert "before" in str(backwards)
    tenant_a.get("/v1/audit/verify?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z").problem(422)
    tenant_a.get("/v1/audit?from=yesterday").problem(422)


def test_only_admin_keys_read_the_trail(
    tenant_a: Api, key_with_role: Callable[[Api, str], Api]
) -> None:
    for role in ("staff", "readonly", "app"):
        caller = key_with_role(tenant_a, role)
        for path in ("/v1/audit", "/v1/audit/verify", "/v1/audit/alerts"):
            caller.get(path).problem(403)


def test_other_tenants_trail_is_invisible(tenant_a: Api, tenant_b: Api, streams: Any) -> None:
    ann = tenant_a.create_customer(name="Ann")
    streams.drain()

    assert tenant_b.get(f"/v1/audit?customer_id={ann['id']}").json["items"] == []
    assert all(
        e["customer_ids"] == [] or ann["id"] not in e["customer_ids"]
        for e in tenant_b.get("/v1/audit").json["items"]
    )


def _verify(owner: Api, hours: int = 3) -> dict[str, Any]:
    now = utc_now()
    start = (now - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = owner.get(f"/v1/audit/verify?from={start}&to={end}")
    assert answer.status == 200, answer.text
    assert answer.json["from"] == start
    return dict(answer.json)


@pytest.fixture
def chained_trail(tenant_a: Api, streams: Any) -> list[AuditEntryItem]:
    """A tenant whose trail holds a few entries in several digests, all chained."""
    for name in ("Ann", "Bob", "Cid"):
        tenant_a.create_customer(name=name)
        streams.drain()
    report = _verify(tenant_a)
    assert report["ok"] is True and report["first_mismatch"] is None, report
    assert report["entries_checked"] >= 6 and report["digests_checked"] >= 3
    pk = keys.audit_entries_pk(tenant_id(tenant_a.tenant_id))
    return list(AuditEntryItem.query(pk))


def test_verify_finds_an_edited_entry(tenant_a: Api, chained_trail: list[AuditEntryItem]) -> None:
    victim = chained_trail[1]
    victim.update(actions=[AuditEntryItem.actor.set("someone_else")])

    report = _verify(tenant_a)

    assert report["ok"] is False
    assert report["first_mismatch"]["finding"] == "entry_modified"
    assert report["first_mismatch"]["entry_id"] == victim.entry_id


def test_verify_finds_a_deleted_entry(tenant_a: Api, chained_trail: list[AuditEntryItem]) -> None:
    victim = chained_trail[2]
    victim.delete()

    report = _verify(tenant_a)

    assert report["first_mismatch"] == {
        "finding": "entry_missing",
        "entry_id": victim.entry_id,
        "digest_sequence": None,
        "at": None,
    }


def test_verify_finds_an_inserted_entry(tenant_a: Api, chained_trail: list[AuditEntryItem]) -> None:
    forged = chained_trail[0]
    forged.entry_id = "aud_FORGED0000000000000000000"
    forged.at = utc_now() - timedelta(hours=2)
    forged.sk = entry_sort_key(forged.at, forged.entry_id)
    forged.save()

    report = _verify(tenant_a)

    assert report["first_mismatch"]["finding"] == "entry_not_in_digest"
    assert report["first_mismatch"]["entry_id"] == "aud_FORGED0000000000000000000"


def test_verify_finds_an_edited_or_removed_digest(
    tenant_a: Api, chained_trail: list[AuditEntryItem]
) -> None:
    pk = keys.audit_digests_pk(tenant_id(tenant_a.tenant_id))
    digests = [d for d in AuditDigestItem.query(pk) if d.sk.startswith("D#")]
    middle = digests[1]
    middle.update(actions=[AuditDigestItem.previous_hash.set("f" * 64)])

    edited = _verify(tenant_a)
    middle.delete()
    removed = _verify(tenant_a)

    assert edited["first_mismatch"]["finding"] == "digest_modified"
    assert edited["first_mismatch"]["digest_sequence"] == int(middle.sequence)
    assert removed["first_mismatch"]["finding"] == "digest_missing"
    assert removed["first_mismatch"]["digest_sequence"] == int(middle.sequence)


def test_entries_taken_by_ttl_are_not_tampering(
    tenant_a: Api,
    chained_trail: list[AuditEntryItem],
    streams: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.services import audit as service

    streams.drain()
    expired = chained_trail[0]
    expired.delete()
    now = utc_now()
    tenant = tenant_id(tenant_a.tenant_id)
    window = (now - timedelta(hours=1), now + timedelta(minutes=1))

    today = service.verify(tenant, *window)
    # (a digest period longer than the wait: this is about TTL, not the digest schedule)
    monkeypatch.setenv("AUDIT_DIGEST_PERIOD_SECONDS", str(500 * 86_400))
    reset_settings()
    after_retention = service.verify(tenant, *window, now=now + timedelta(days=400))

    assert today.first_mismatch is not None
    assert today.first_mismatch.entry_id == expired.entry_id
    assert after_retention.ok, after_retention


def test_a_read_whose_entry_cannot_be_written_fails_with_503(
    tenant_a: Api, environment: dict[str, str]
) -> None:
    ann = tenant_a.create_customer(name="Ann")
    client = boto3.client("dynamodb", region_name=environment["AWS_DEFAULT_REGION"])
    client.delete_table(TableName=environment["AUDIT_TABLE"])

    answer = tenant_a.get(f"/v1/customers/{ann['id']}")

    problem = answer.problem(503)
    assert problem["type"].endswith("audit-unavailable")
    assert "Ann" not in answer.text


def test_reading_many_customers_raises_one_alert_and_event(
    tenant_a: Api, key_with_role: Callable[[Api, str], Api], streams: Any
) -> None:
    # Given a threshold of 2 distinct customers per hour and a webhook to tell
    config = tenant_a.get("/v1/config")
    document = config.json["config"]
    document["audit"] = {"distinct_customers_alert": 2, "alert_window_minutes": 60}
    document["webhook_url"] = "http://127.0.0.1:9/hook"
    document["webhook_secret"] = "s" * 32
    put = tenant_a.request(
        "PUT", "/v1/config", document, headers={"If-Match": config.headers["etag"]}
    )
    assert put.status == 200, put.text
    reader = key_with_role(tenant_a, "readonly")
    ids = [tenant_a.create_customer(name=n)["id"] for n in ("A", "B", "C")]
    # When one key reads all three, twice
    for customer in ids + ids:
        assert reader.get(f"/v1/customers/{customer}").status == 200
    streams.drain()
    # Then one alert names the key and the rule
    alerts = tenant_a.get("/v1/audit/alerts").json["items"]
    assert len(alerts) == 1
    (alert,) = alerts
    assert alert["detail"]["rule"] == "many_customers"
    assert alert["detail"]["distinct_customers"] == "3"
    assert alert["kind"] == "alert"
    reads = tenant_a.get(f"/v1/audit?actor={alert['actor']}").json["items"]
    assert {e["action"] for e in reads} == {"get_customer", "alert"}
    # And its event was published like segment events (the webhook refused it here)
    from chalicelib.dal.events import get_event

    event = get_event(tenant_id(tenant_a.tenant_id), "evt_" + alert["id"].removeprefix("aud_"))
    assert event is not None and event.type == "audit.alert"
    assert event.detail["rule"] == "many_customers"


def _request_entry(tenant: TenantId, writer: int, n: int) -> AuditEntry:
    """The `n`th request entry of concurrent `writer`, kept an hour."""
    return AuditEntry(
        tenant_id=tenant,
        entry_id=f"aud_{writer:02d}{n:024d}",
        at=utc_now(),
        kind=EntryKind.REQUEST,
        actor="key_x",
        role="admin",
        action="get_customer",
        resource_type="customers",
        request_id=f"r{writer}-{n}",
        expires_at=int(utc_now().timestamp()) + 3600,
    )


def test_concurrent_writers_extend_the_chain_without_forking(tenant_a: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.services.audit import chain

    # Given four batches of entries chained at once by four writers
    tenant = tenant_id(tenant_a.tenant_id)
    batches = [[_request_entry(tenant, writer, n) for n in range(3)] for writer in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        sequences = sorted(pool.map(lambda batch: chain(tenant, batch), batches))

    # Then the chain holds one digest per batch, each linked to the one before
    digests = trail.digests_between(tenant, utc_now() - timedelta(hours=1), utc_now())
    assert sequences == [1, 2, 3, 4]
    assert [d.sequence for d in digests] == [1, 2, 3, 4]
    for before, after in pairwise(digests):
        assert after.previous_hash == link_to(before)


def test_every_export_and_erasure_raises_an_alert(tenant_a: Api, streams: Any) -> None:
    # Given two customers, one exported and one erased
    kept = tenant_a.create_customer(name="Kept")
    erased = tenant_a.create_customer(name="Gone", email="gone@example.com")
    exported = tenant_a.get(f"/v1/customers/{kept['id']}/export")
    erasure = tenant_a.delete(f"/v1/customers/{erased['id']}?erase=true")
    assert exported.status == 200 and erasure.status == 204
    # When the streams have run
    streams.drain()
    # Then the erasure is recorded as one (its request and the changes it made)
    (request,) = _request_entries(tenant_a, erasure.headers["x-request-id"])
    assert request.action == "erase_customer"
    removal = [
        e
        for e in _entries(tenant_a)
        if e.kind is EntryKind.CHANGE and e.detail.get("event") == "remove"
    ]
    assert [(e.action, e.customer_ids) for e in removal] == [("erase_customer", (erased["id"],))]
    # And each raised an alert naming its rule and the customer
    alerts = tenant_a.get("/v1/audit/alerts").json["items"]
    by_rule = {a["detail"]["rule"]: a for a in alerts}
    assert set(by_rule) == {"export", "erasure"}
    assert by_rule["export"]["customer_ids"] == [kept["id"]]
    assert by_rule["erasure"]["customer_ids"] == [erased["id"]]
    # And the trail still verifies after the erasure
    assert _verify(tenant_a)["ok"] is True


def test_a_batch_of_several_customers_is_attributed_to_its_caller(
    tenant_a: Api, key_with_role: Callable[[Api, str], Api], streams: Any
) -> None:
    # Given a staff key recording interactions for three customers in one batch (the
    # customers' items run in parallel workers)
    staff = key_with_role(tenant_a, "staff")
    customers = [tenant_a.create_customer(name=n)["id"] for n in ("A", "B", "C")]
    items = [{"customer_id": c, "type": "visit"} for c in customers]
    answer = staff.post("/v1/interactions:batch", {"items": items})
    assert answer.status == 200 and answer.json["created"] == 3, answer.text
    # When the streams have run
    streams.drain()
    # Then each interaction's change entry names the staff key and the batch request
    staff_key = _key_id_of(staff, tenant_a)
    created = [
        e
        for e in _entries(tenant_a)
        if e.kind is EntryKind.CHANGE and e.resource_type == "interaction"
    ]
    assert sorted(e.customer_ids[0] for e in created) == sorted(customers)
    assert {(e.actor, e.action, e.request_id) for e in created} == {
        (staff_key, "record_interactions_batch", answer.headers["x-request-id"])
    }


# --- the chain's tail: the digest schedule, the chain key ---------------------------------


def _digest_items(owner: Api) -> list[AuditDigestItem]:
    pk = keys.audit_digests_pk(tenant_id(owner.tenant_id))
    items = [d for d in AuditDigestItem.query(pk) if d.sk.startswith("D#")]
    return sorted(items, key=lambda d: int(d.sequence))


def _heartbeats_at(moments: list[datetime]) -> None:
    """The heartbeat consumer over a page of every tenant, at each moment."""
    from chalicelib.dal import control
    from chalicelib.services.audit import append_heartbeats

    tenants = [tenant.id for tenant in control.iter_tenants()]
    for moment in moments:
        append_heartbeats(tenants, now=moment)


def _cut_tail_after(owner: Api, kept: AuditDigestItem) -> None:
    """The attack: the digests after `kept` and the entries they list deleted, and the
    head rewound to `kept`."""
    for digest in _digest_items(owner):
        if int(digest.sequence) > int(kept.sequence):
            for sort_key, _, _ in json.loads(digest.entries or "[]"):
                AuditEntryItem(keys.audit_entries_pk(tenant_id(owner.tenant_id)), sort_key).delete()
            digest.delete()
    AuditDigestItem(
        kept.pk,
        keys.AUDIT_HEAD_SK,
        sequence=kept.sequence,
        created_at=kept.created_at,
        signature=kept.signature,
        scheme=kept.scheme,
        link=_as_digest(owner, kept).head().link,
    ).save()


def _as_digest(owner: Api, item: AuditDigestItem) -> Digest:
    (digest,) = [
        d
        for d in trail.digests_between(tenant_id(owner.tenant_id), item.created_at, item.created_at)
        if d.sequence == int(item.sequence)
    ]
    return digest


def test_a_cut_tail_with_a_rewound_head_fails_verification(
    tenant_a: Api, chained_trail: list[AuditEntryItem]
) -> None:
    from chalicelib.services import audit as service

    # Given a chained trail that the digest schedule extended every period for half an hour
    tenant = tenant_id(tenant_a.tenant_id)
    began = utc_now()
    period = service.digest_period()
    _heartbeats_at([began + period * n for n in range(1, 7)])
    digests = _digest_items(tenant_a)
    kept = digests[1]
    later = began + 32 * period / 5
    window = (began - timedelta(hours=1), later)
    assert service.verify(tenant, *window, now=later).ok

    # When the newest digests and their entries are deleted and the head rewound
    _cut_tail_after(tenant_a, kept)
    cut = service.verify(tenant, *window, now=later)
    # and the schedule extends the chain from the rewound head
    _heartbeats_at([later])
    regrown = service.verify(tenant, *window, now=later + period / 5)

    # Then verification reports the missing tail, with the time of the last digest
    assert cut.first_mismatch is not None
    assert cut.first_mismatch.finding is Finding.TAIL_MISSING
    assert cut.first_mismatch.at == kept.created_at
    assert cut.first_mismatch.digest_sequence == int(kept.sequence)
    # and, once the chain grew again, the hole in time
    assert regrown.first_mismatch is not None
    assert regrown.first_mismatch.finding is Finding.DIGEST_GAP
    assert regrown.first_mismatch.at == kept.created_at


def test_a_tail_forged_with_the_api_functions_hmac_key_fails_verification(
    tenant_a: Api, chained_trail: list[AuditEntryItem]
) -> None:
    from chalicelib.services import audit as service
    from chalicelib.services.audit_signing import legacy_hmac_key

    # Given a chain extended by the schedule, cut after its second digest, head rewound
    tenant = tenant_id(tenant_a.tenant_id)
    began = utc_now()
    period = service.digest_period()
    _heartbeats_at([began + period * n for n in range(1, 4)])
    kept = _digest_items(tenant_a)[1]
    _cut_tail_after(tenant_a, kept)

    # When the attacker grows the chain to now again, signing with the HMAC key it holds
    later = began + 4 * period
    forged = service.chain(tenant, [], now=later, signer=legacy_hmac_key())
    report = service.verify(tenant, began - timedelta(hours=1), later, now=later)

    # Then the first forged digest is reported
    assert report.first_mismatch is not None
    assert report.first_mismatch.finding is Finding.DIGEST_MODIFIED
    assert report.first_mismatch.digest_sequence == forged


def test_the_digest_schedule_extends_a_quiet_chain_with_empty_digests(
    tenant_a: Api, streams: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import audit_heartbeats
    from devtools.local_schedule import scheduled_event

    # Given a digest period of two seconds (grace two) and a tenant whose trail is chained
    monkeypatch.setenv("AUDIT_DIGEST_PERIOD_SECONDS", "2")
    monkeypatch.setenv("AUDIT_DIGEST_GRACE_SECONDS", "2")
    reset_settings()
    tenant_a.create_customer(name="Ann")
    streams.drain()
    (*_, before) = _digest_items(tenant_a)

    # When nothing else happens, the scheduled function runs (as the local schedule runs
    # it) about every period for longer than the period plus grace, and once more at once,
    # each run's pages taken by the heartbeat queue's consumer
    for _ in range(3):
        time.sleep(1.6)
        audit_heartbeats(scheduled_event("audit_heartbeats"), None)
        streams.drain()
    audit_heartbeats(scheduled_event("audit_heartbeats"), None)
    streams.drain()
    answer = _verify(tenant_a)

    # Then each due run appended one digest, without entries, signed with the chain key
    *_, heartbeat = heartbeats = _digest_items(tenant_a)[-3:]
    assert [int(d.sequence) for d in heartbeats] == [int(before.sequence) + n for n in (1, 2, 3)]
    assert heartbeats[0].previous_hash == _as_digest(tenant_a, before).head().link
    assert all(json.loads(d.entries or "[]") == [] for d in heartbeats)
    assert {d.scheme for d in heartbeats} == {"ecdsa-p256-sha256"}
    assert heartbeat.expires_at is not None and heartbeat.expires_at > time.time() + 86_400
    # and the trail verifies, the heartbeats covering the tail
    assert answer["ok"] is True, answer

    # When the schedule stops for longer than the period plus grace
    time.sleep(4.5)
    stopped = _verify(tenant_a)

    # Then verification names the missing tail and when the chain stopped
    assert stopped["ok"] is False
    assert stopped["first_mismatch"]["finding"] == "tail_missing"
    assert stopped["first_mismatch"]["digest_sequence"] == int(heartbeat.sequence)
    assert datetime.fromisoformat(stopped["first_mismatch"]["at"]) == heartbeat.created_at


def test_an_entry_is_never_overwritten(tenant_a: Api) -> None:
    # Given an entry in the trail
    tenant = tenant_id(tenant_a.tenant_id)
    tenant_a.create_customer(name="Ann")
    (entry, *_) = _entries(tenant_a)

    # When an entry with the same key but other content is put, by the stream functions
    # (a redelivery is not an error) and by the request path (a collision is)
    other = replace(entry, actor="key_someone_else")
    rewritten = trail.put_entry(tenant, other)
    with pytest.raises(AuditUnavailable):
        trail.put_new_entry(tenant, other)

    # Then both puts are refused and the stored entry is unchanged
    assert rewritten is False
    assert trail.entries_between(tenant, entry.at, entry.at)[entry.sort_key] == entry


def test_digests_signed_through_kms_verify_and_others_do_not(
    tenant_a: Api, streams: Any, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.services import audit as service
    from chalicelib.services.audit_signing import FileChainSigner, KmsChainKey

    # Given a deployed-like stage: the chain key is a KMS P-256 signing key (moto's KMS)
    kms = boto3.client("kms", region_name=environment["AWS_DEFAULT_REGION"])
    created = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    monkeypatch.setenv("AUDIT_SIGNING_KEY_ID", created["KeyMetadata"]["Arn"])
    reset_settings()
    tenant = tenant_id(tenant_a.tenant_id)

    # When the trail is chained through KMS, and a digest signed with another key follows
    tenant_a.create_customer(name="Ann")
    streams.drain()
    signed_by_kms = _verify(tenant_a)
    other_key = FileChainSigner(Path(environment["AUDIT_SIGNING_KEY_FILE"]))
    forged = service.chain(tenant, [], signer=other_key)
    after_forgery = _verify(tenant_a)

    # Then the KMS-signed chain verifies and names its scheme, the forgery does not
    assert signed_by_kms["ok"] is True, signed_by_kms
    assert {d.scheme for d in _digest_items(tenant_a)} == {"ecdsa-p256-sha256"}
    assert isinstance(service.chain_signer(), KmsChainKey)
    assert after_forgery["first_mismatch"]["finding"] == "digest_modified"
    assert after_forgery["first_mismatch"]["digest_sequence"] == forged


def test_the_schedule_and_the_stream_function_extend_one_chain_without_forking(
    tenant_a: Api,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.services.audit import append_heartbeats, chain

    # Given batches of entries chained by stream functions while a heartbeat is appended
    tenant = tenant_id(tenant_a.tenant_id)
    later = utc_now() + timedelta(hours=1)
    batches = [[_request_entry(tenant, writer, 0)] for writer in range(3)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        heartbeat = pool.submit(append_heartbeats, [tenant], later)
        list(pool.map(lambda batch: chain(tenant, batch), batches))
        heartbeat.result()

    # Then every digest follows the one before it: one chain, no fork
    digests = trail.digests_between(tenant, utc_now() - timedelta(hours=1), later)
    assert [d.sequence for d in digests] == [1, 2, 3, 4]
    for before, after in pairwise(digests):
        assert after.previous_hash == link_to(before)

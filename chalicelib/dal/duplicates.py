"""Duplicate detection's reads and writes: match keys, match states, candidate pairs and
their listings (docs/data-model.md, "Duplicate detection"). Every access is a GetItem,
BatchGetItem, Query or TransactWriteItems; nothing scans."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from chalicelib.dal import keys
from chalicelib.dal.cursors import page_of
from chalicelib.dal.duplicates_models import (
    DuplicateListingItem,
    DuplicatePairItem,
    MatchKeyItem,
    MatchProfileView,
    MatchStateItem,
)
from chalicelib.dal.transactions import ConditionsFailed, LabelledTransaction, commit_with_retry
from chalicelib.domain.duplicates import (
    ListedPair,
    MatchKey,
    MatchKind,
    MatchProfile,
    PairState,
    Reason,
)
from chalicelib.domain.errors import ConcurrentModification
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import TenantId

_BATCH_GET_KEYS = 100


def _profile(item: MatchProfileView) -> MatchProfile:
    return MatchProfile(
        customer_id=item.customer_id,
        name=item.name,
        email=item.email,
        phone=item.phone,
        external_id=item.external_id,
        birthday=date.fromisoformat(item.birthday) if item.birthday else None,
        address=dict(item.address.as_dict()) if item.address else None,
        created_at=item.created_at,
    )


def load_profile(tenant: TenantId, customer_id: str) -> MatchProfile | None:
    """The profile as matching sees it; None when it is gone or merged into another."""
    profiles = load_profiles(tenant, [customer_id])
    return profiles.get(customer_id)


def load_profiles(tenant: TenantId, customer_ids: Iterable[str]) -> dict[str, MatchProfile]:
    """Strongly consistent BatchGetItem, 100 keys a call; profiles gone or merged are left
    out."""
    wanted = sorted(set(customer_ids))
    found: dict[str, MatchProfile] = {}
    for start in range(0, len(wanted), _BATCH_GET_KEYS):
        chunk = [
            (keys.customer_pk(tenant, customer_id), keys.PROFILE_SK)
            for customer_id in wanted[start : start + _BATCH_GET_KEYS]
        ]
        for item in MatchProfileView.batch_get(chunk, consistent_read=True):
            if not item.merged_into:
                found[item.customer_id] = _profile(item)
    return found


def _encoded(key: MatchKey) -> str:
    return f"{key.kind}#{key.digest}"


def _decoded(text: str) -> MatchKey:
    kind, digest = text.split("#", 1)
    return MatchKey(MatchKind(kind), digest)


def match_keys_held(tenant: TenantId, customer_id: str) -> tuple[frozenset[MatchKey], int | None]:
    """The match keys the customer is filed under and the state item's version."""
    try:
        item = MatchStateItem.get(
            keys.match_state_pk(tenant, customer_id), keys.MATCH_STATE_SK, consistent_read=True
        )
    except MatchStateItem.DoesNotExist:
        return frozenset(), None
    return frozenset(_decoded(text) for text in item.match_keys or ()), item.version


def file_under(
    tenant: TenantId,
    customer_id: str,
    held: frozenset[MatchKey],
    version: int | None,
    wanted: frozenset[MatchKey],
    now: datetime,
) -> None:
    """Moves the customer from the keys it holds to the keys it should hold, with its state
    item, in one transaction under the state's version (ConcurrentModification when another
    run moved it first). No keys left: the state item goes too."""
    if held == wanted and (wanted or version is None):
        return

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        for key in held - wanted:
            transaction.delete(
                "match key",
                MatchKeyItem(keys.match_key_pk(tenant, key.kind, key.digest), customer_id),
            )
        for key in wanted - held:
            transaction.put(
                "match key",
                MatchKeyItem(
                    keys.match_key_pk(tenant, key.kind, key.digest),
                    customer_id,
                    tenant_id=tenant,
                    customer_id=customer_id,
                    kind=key.kind.value,
                ),
            )
        state = MatchStateItem(
            keys.match_state_pk(tenant, customer_id),
            keys.MATCH_STATE_SK,
            tenant_id=tenant,
            customer_id=customer_id,
            match_keys={_encoded(key) for key in wanted} or None,
            updated_at=now,
        )
        if version is not None:
            state.version = version
        if wanted:
            transaction.put("match state", state)
        else:
            transaction.delete("match state", state)
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as failed:
        raise ConcurrentModification(f"customer {customer_id}'s match keys moved") from failed


def filed_under(tenant: TenantId, key: MatchKey, limit: int) -> list[str]:
    """Up to `limit` customers filed under `key`, the most recently created first (one
    Query page)."""
    items = MatchKeyItem.query(
        keys.match_key_pk(tenant, key.kind, key.digest),
        scan_index_forward=False,
        limit=limit,
        page_size=limit,
    )
    return [item.customer_id for item in items]


def listed_partners(tenant: TenantId, customer_id: str) -> set[str]:
    """Every customer with which `customer_id` has a listed (not dismissed) pair."""
    items = DuplicateListingItem.query(
        keys.duplicates_of_pk(tenant, customer_id), consistent_read=True
    )
    return {item.other_customer_id for item in items}


def _state(item: DuplicatePairItem) -> PairState:
    return PairState(
        customer_a=item.customer_a,
        customer_b=item.customer_b,
        score=int(item.score),
        reasons=tuple(Reason(str(reason)) for reason in item.reasons),
        fingerprint=item.fingerprint,
        dismissed_fingerprint=item.dismissed_fingerprint,
        dismissed_by=item.dismissed_by,
        version=item.version,
    )


def get_pair(tenant: TenantId, customer_a: str, customer_b: str) -> PairState | None:
    try:
        item = DuplicatePairItem.get(
            keys.duplicate_pair_pk(tenant, customer_a, customer_b),
            keys.DUPLICATE_PAIR_SK,
            consistent_read=True,
        )
    except DuplicatePairItem.DoesNotExist:
        return None
    return _state(item)


def _pair_item(tenant: TenantId, pair: PairState, now: datetime) -> DuplicatePairItem:
    item = DuplicatePairItem(
        keys.duplicate_pair_pk(tenant, pair.customer_a, pair.customer_b),
        keys.DUPLICATE_PAIR_SK,
        tenant_id=tenant,
        pair_id=pair.pair_id,
        customer_a=pair.customer_a,
        customer_b=pair.customer_b,
        score=pair.score,
        reasons=[reason.value for reason in pair.reasons],
        fingerprint=pair.fingerprint,
        dismissed_fingerprint=pair.dismissed_fingerprint,
        dismissed_by=pair.dismissed_by,
        updated_at=now,
    )
    if not pair.dismissed:
        item.gsi3pk = keys.duplicates_pk(tenant)
        item.gsi3sk = f"{keys.duplicate_rank(pair.score)}#{pair.pair_id}"
    return item


def _listings(tenant: TenantId, pair: PairState) -> dict[tuple[str, str], DuplicateListingItem]:
    """The pair's two listing items, by key; none while it is dismissed."""
    if pair.dismissed:
        return {}
    listings = {}
    for customer_id in (pair.customer_a, pair.customer_b):
        other = pair.other(customer_id)
        pk = keys.duplicates_of_pk(tenant, customer_id)
        sk = f"{keys.duplicate_rank(pair.score)}#{other}"
        listings[(pk, sk)] = DuplicateListingItem(
            pk,
            sk,
            tenant_id=tenant,
            customer_id=customer_id,
            other_customer_id=other,
            pair_id=pair.pair_id,
            score=pair.score,
            reasons=[reason.value for reason in pair.reasons],
        )
    return listings


def save_pair(
    tenant: TenantId, before: PairState | None, after: PairState | None, now: datetime
) -> None:
    """Writes a pair and its listings as `after` (None: removed) in one transaction, under
    the version `before` was read at (ConcurrentModification when it moved)."""
    pair = after or before
    if pair is None:
        return
    old = _listings(tenant, before) if before else {}
    new = _listings(tenant, after) if after else {}

    def build() -> LabelledTransaction:
        transaction = LabelledTransaction()
        for key in old.keys() - new.keys():
            transaction.delete("listing", old[key])
        for listing in new.values():
            transaction.put("listing", listing)
        item = _pair_item(tenant, pair, now)
        if before is not None and before.version is not None:
            item.version = before.version
        if after is None:
            transaction.delete("pair", item)
        else:
            transaction.put("pair", item)
        return transaction

    try:
        commit_with_retry(build)
    except ConditionsFailed as failed:
        raise ConcurrentModification(f"pair {pair.pair_id} changed meanwhile") from failed


def list_listed(
    tenant: TenantId, customer_id: str, min_score: int, page: PageRequest
) -> Page[ListedPair]:
    """One customer's pairs not dismissed, highest score first: one Query of its listing
    partition (`sk` below the rank of `min_score`)."""
    bound = f"{keys.duplicate_rank(min_score)}$"
    found, cursor = page_of(
        tenant,
        f"duplicates:customer:{customer_id}:min:{min_score}",
        page,
        lambda start, limit: DuplicateListingItem.query(
            keys.duplicates_of_pk(tenant, customer_id),
            DuplicateListingItem.sk < bound,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
    )
    listed = [
        ListedPair(
            pair_id=item.pair_id,
            other_customer_id=item.other_customer_id,
            score=int(item.score),
            reasons=tuple(Reason(str(reason)) for reason in item.reasons),
        )
        for item in found
    ]
    return Page(listed, cursor)


def list_pairs(tenant: TenantId, min_score: int, page: PageRequest) -> Page[PairState]:
    """The tenant's pairs not dismissed, highest score first: one Query of gsi3."""
    bound = f"{keys.duplicate_rank(min_score)}$"
    found, cursor = page_of(
        tenant,
        f"duplicates:min:{min_score}",
        page,
        lambda start, limit: DuplicatePairItem.by_score.query(
            keys.duplicates_pk(tenant),
            DuplicatePairItem.gsi3sk < bound,
            limit=limit,
            page_size=limit,
            last_evaluated_key=start,
        ),
        ("gsi3pk", "gsi3sk"),
    )
    return Page([_state(item) for item in found], cursor)

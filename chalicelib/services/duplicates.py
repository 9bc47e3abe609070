"""Duplicate detection (issue 16): keeping a customer's candidate pairs current, listing
them and dismissing one.

`refresh_matches` runs from the data stream when a profile is created, changed or deleted.
Like the segment refresh it recomputes from what is stored now, never from the record: a
redelivered, reordered or late record finds nothing to change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from chalicelib.dal import duplicates as repository
from chalicelib.domain.clock import utc_now
from chalicelib.domain.duplicates import (
    CANDIDATES_PER_KEY,
    ListedPair,
    MatchProfile,
    PairState,
    compare,
    customers_of_pair,
    match_keys,
    ordered_pair,
    pair_fingerprint,
)
from chalicelib.domain.errors import ConcurrentModification, NotFound
from chalicelib.domain.paging import Page, PageRequest
from chalicelib.domain.tenancy import TenantId
from chalicelib.services import customers

MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class MatchRefresh:
    """What a refresh did: the customers it compared and the pairs it wrote."""

    compared: frozenset[str]
    pairs_written: int


def refresh_matches(tenant: TenantId, customer_id: str) -> MatchRefresh:
    """Files the customer under its current match keys (none when its profile is gone or
    merged), then brings every pair it may belong to up to date: the customers filed under
    its keys (at most CANDIDATES_PER_KEY per key) and those it is already paired with."""
    now = utc_now()
    profile = repository.load_profile(tenant, customer_id)
    wanted = match_keys(profile) if profile else frozenset()
    for attempt in range(MAX_ATTEMPTS):
        held, version = repository.match_keys_held(tenant, customer_id)
        try:
            repository.file_under(tenant, customer_id, held, version, wanted, now)
            break
        except ConcurrentModification:
            if attempt == MAX_ATTEMPTS - 1:
                raise
    candidates: set[str] = set()
    for key in wanted:
        candidates.update(repository.filed_under(tenant, key, CANDIDATES_PER_KEY + 1))
    candidates |= repository.listed_partners(tenant, customer_id)
    candidates.discard(customer_id)
    others = repository.load_profiles(tenant, candidates) if profile else {}
    written = sum(
        _sync_pair(tenant, customer_id, profile, others.get(other), other)
        for other in sorted(candidates)
    )
    return MatchRefresh(frozenset(candidates), written)


def _pair_after(
    before: PairState | None, left: MatchProfile | None, right: MatchProfile | None
) -> PairState | None:
    if left is None or right is None:
        return None
    match = compare(left, right)
    if match is None:
        return None
    low, high = ordered_pair(left.customer_id, right.customer_id)
    fingerprint = pair_fingerprint(left, right)
    still_dismissed = before is not None and before.dismissed_fingerprint == fingerprint
    return PairState(
        customer_a=low,
        customer_b=high,
        score=match.score,
        reasons=match.reasons,
        fingerprint=fingerprint,
        dismissed_fingerprint=fingerprint if still_dismissed else None,
        dismissed_by=before.dismissed_by if still_dismissed and before else None,
        version=before.version if before else None,
    )


def _sync_pair(
    tenant: TenantId,
    customer_id: str,
    profile: MatchProfile | None,
    other: MatchProfile | None,
    other_id: str,
) -> int:
    """Writes the pair of the two customers as it should be now; 1 if that wrote."""
    low, high = ordered_pair(customer_id, other_id)
    for _ in range(MAX_ATTEMPTS):
        before = repository.get_pair(tenant, low, high)
        after = _pair_after(before, profile, other)
        if before == after or (before is None and after is None):
            return 0
        try:
            repository.save_pair(tenant, before, after, utc_now())
        except ConcurrentModification:
            continue
        return 1
    raise ConcurrentModification(f"the pair of {low} and {high} kept changing")


@dataclass(frozen=True)
class DuplicateCandidate:
    """A listed pair with the profiles it names (None for one gone since it was listed)."""

    pair: ListedPair
    other: MatchProfile | None


def list_customer_duplicates(
    tenant: TenantId, customer_id: str, min_score: int, page: PageRequest
) -> Page[DuplicateCandidate]:
    customers.get_customer(tenant, customer_id)
    listed = repository.list_listed(tenant, customer_id, min_score, page)
    profiles = repository.load_profiles(tenant, [p.other_customer_id for p in listed.items])
    items = [DuplicateCandidate(p, profiles.get(p.other_customer_id)) for p in listed.items]
    return Page(items, listed.next_cursor)


@dataclass(frozen=True)
class DuplicatePair:
    pair: PairState
    profiles: tuple[MatchProfile | None, MatchProfile | None]


def _with_profiles(tenant: TenantId, pairs: list[PairState]) -> list[DuplicatePair]:
    wanted = [customer for p in pairs for customer in (p.customer_a, p.customer_b)]
    profiles = repository.load_profiles(tenant, wanted)
    return [
        DuplicatePair(p, (profiles.get(p.customer_a), profiles.get(p.customer_b))) for p in pairs
    ]


def list_duplicates(tenant: TenantId, min_score: int, page: PageRequest) -> Page[DuplicatePair]:
    found = repository.list_pairs(tenant, min_score, page)
    return Page(_with_profiles(tenant, found.items), found.next_cursor)


def dismiss_pair(tenant: TenantId, pair: str, actor: str) -> DuplicatePair:
    """Marks a pair "not a duplicate" until either profile's matching fields change (its
    fingerprint, as of the pair's last refresh). Dismissing a dismissed pair changes
    nothing."""
    customer_ids = customers_of_pair(pair)
    if customer_ids is None:
        raise NotFound(f"duplicate pair {pair} not found")
    for _ in range(MAX_ATTEMPTS):
        before = repository.get_pair(tenant, *customer_ids)
        if before is None:
            raise NotFound(f"duplicate pair {pair} not found")
        if before.dismissed:
            return _with_profiles(tenant, [before])[0]
        after = replace(before, dismissed_fingerprint=before.fingerprint, dismissed_by=actor)
        try:
            repository.save_pair(tenant, before, after, utc_now())
        except ConcurrentModification:
            continue
        stored = replace(after, version=(before.version or 0) + 1)
        return _with_profiles(tenant, [stored])[0]
    raise ConcurrentModification(f"duplicate pair {pair} kept changing; retry")

"""PynamoDB items of duplicate detection (issue 16); keys in docs/data-model.md
("Duplicate detection")."""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from chalicelib.dal.models.base import DataTableModel, _Gsi3


class MatchKeyItem(DataTableModel):
    """Files a customer under one blocking key (`T#{t}#MATCH#{kind}#{digest}`, sk the
    customer id): the profiles to compare it with are the other items of the partition."""

    entity = UnicodeAttribute(default="match_key")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    kind = UnicodeAttribute()


class MatchStateItem(DataTableModel):
    """The match keys a customer is filed under now (`T#{t}#MATCHES#{c}`, sk `STATE`), so a
    change knows which ones to remove."""

    entity = UnicodeAttribute(default="match_state")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    match_keys = UnicodeSetAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class DuplicatePairsByScore(_Gsi3["DuplicatePairItem"]):
    pass


class DuplicatePairItem(DataTableModel):
    """One candidate pair (`T#{t}#DUP#{a}#{b}`, a < b, sk `PAIR`): score, reasons, the two
    profiles' matching fingerprint and a dismissal. Listed in gsi3 under
    `T#{t}#DUPLICATES` while not dismissed."""

    audit_resource = "duplicate_pair"
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    entity = UnicodeAttribute(default="duplicate_pair")
    tenant_id = UnicodeAttribute()
    pair_id = UnicodeAttribute()
    customer_a = UnicodeAttribute()
    customer_b = UnicodeAttribute()
    score = NumberAttribute()
    reasons = ListAttribute(of=UnicodeAttribute)
    fingerprint = UnicodeAttribute()
    dismissed_fingerprint = UnicodeAttribute(null=True)
    dismissed_by = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_score = DuplicatePairsByScore()


class DuplicateListingItem(DataTableModel):
    """A pair as one of its customers lists it (`T#{t}#DUPS#{c}`, sk
    `{100 - score:03d}#{other}`), written with the pair; none while it is dismissed."""

    entity = UnicodeAttribute(default="duplicate_listing")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    other_customer_id = UnicodeAttribute()
    pair_id = UnicodeAttribute()
    score = NumberAttribute()
    reasons = ListAttribute(of=UnicodeAttribute)


class MatchProfileView(DataTableModel):
    """Read-only view of a customer profile item (`PROFILE`) with the fields matching needs,
    `merged_into` included (set by a merge: such a profile has no candidates). Never
    written; the profile is written as `CustomerItem`."""

    customer_id = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    external_id = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)
    address = MapAttribute[str, str](null=True)
    created_at = UTCDateTimeAttribute(null=True)
    merged_into = UnicodeAttribute(null=True)

"""Item models of customer profiles: the profile, its unique claims, tag listings, counters."""

from __future__ import annotations

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from chalicelib.dal.models.base import (
    DataTableModel,
    _Gsi1,
)


class CustomersByCreated(_Gsi1["CustomerItem"]):
    pass


class CustomerItem(DataTableModel):
    audit_resource = "customer"
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    entity = UnicodeAttribute(default="customer")
    tenant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    external_id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)
    gender = UnicodeAttribute(null=True)
    address = MapAttribute[str, str](null=True)
    tags = UnicodeSetAttribute(null=True)
    custom_attributes = MapAttribute[str, object](attr_name="attributes", null=True)
    consent = MapAttribute[str, bool](null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_created = CustomersByCreated()


class CounterItem(DataTableModel):
    """A tenant-wide count kept exact by the transactions that change it."""

    entity = UnicodeAttribute(default="counter")
    value = NumberAttribute(default=0)


class UniqueItem(DataTableModel):
    """Claims a unique value (email, phone, external id) for one customer of a tenant."""

    entity = UnicodeAttribute(default="unique")
    tenant_id = UnicodeAttribute()
    field = UnicodeAttribute()
    customer_id = UnicodeAttribute()


class TagItem(DataTableModel):
    """Lists a customer under one of its tags, newest customer first."""

    entity = UnicodeAttribute(default="customer_tag")
    tenant_id = UnicodeAttribute()
    tag = UnicodeAttribute()
    customer_id = UnicodeAttribute()

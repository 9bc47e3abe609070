"""Item models of the control table: tenants, API keys, tenant configuration, usage."""

from __future__ import annotations

from pynamodb.attributes import (
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.dal.models.base import (
    ControlTableModel,
    _Gsi1,
)


class TenantsByCreated(_Gsi1["TenantItem"]):
    pass


class ApiKeysByOwner(_Gsi1["ApiKeyItem"]):
    pass


class TenantsByStatus(GlobalSecondaryIndex["TenantItem"]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class TenantItem(ControlTableModel):
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    entity = UnicodeAttribute(default="tenant")
    tenant_id = UnicodeAttribute()
    name = UnicodeAttribute()
    plan = UnicodeAttribute()
    status = UnicodeAttribute()
    contact_email = UnicodeAttribute(null=True)
    key_count = NumberAttribute(default=0)
    key_hashes = UnicodeSetAttribute(null=True)
    """The hashes (key items' pk suffixes) of the tenant's keys that are not revoked, so a
    change of the tenant reaches each key by its table key, never through the eventually
    consistent gsi1 alone (dal/control.py, `copy_tenant_to_keys`)."""
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    deleted_at = UTCDateTimeAttribute(null=True)
    purge = UnicodeAttribute(null=True)
    gateway_key_id = UnicodeAttribute(null=True)
    gateway_plan = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_created = TenantsByCreated()
    by_status = TenantsByStatus()


class ApiKeyItem(ControlTableModel):
    """An API key, stored under the SHA-256 of its secret: the secret itself is never kept."""

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    entity = UnicodeAttribute(default="api_key")
    key_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute(null=True)
    role = UnicodeAttribute()
    label = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)
    last_used_at = UTCDateTimeAttribute(null=True)
    rotated_to = UnicodeAttribute(null=True)
    tenant_status = UnicodeAttribute(null=True)
    tenant_plan = UnicodeAttribute(null=True)

    by_owner = ApiKeysByOwner()


class TenantConfigItem(ControlTableModel):
    """A tenant's whole configuration, as JSON, versioned."""

    entity = UnicodeAttribute(default="tenant_config")
    tenant_id = UnicodeAttribute()
    document = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class UsageItem(ControlTableModel):
    """A tenant's requests and consumed capacity for one day, added to in batches."""

    entity = UnicodeAttribute(default="usage")
    tenant_id = UnicodeAttribute()
    day = UnicodeAttribute()
    requests = NumberAttribute(default=0)
    read_capacity = NumberAttribute(default=0)
    write_capacity = NumberAttribute(default=0)

"""PynamoDB item models, one submodule per feature. They never leave the DAL: repositories
return domain objects.

`from chalicelib.dal.models import CustomerItem` works for every model, but imports only the
submodule that defines it (PEP 562): PynamoDB's metaclass does real work for every model class,
so a cold request defines only the models its code path touches. `import_all_models()` is for
code that must see every model (the audit trail's entity map, the IAM test).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.dal.models.analytics import AnalyticsCounterItem, CustomerAnalyticsItem
    from chalicelib.dal.models.audit import (
        AuditDigestItem,
        AuditEntriesByAction,
        AuditEntriesByActor,
        AuditEntriesByCustomer,
        AuditEntryItem,
        AuditWindowItem,
    )
    from chalicelib.dal.models.base import (
        UNBOUND,
        AuditTableModel,
        ControlTableModel,
        DataTableModel,
    )
    from chalicelib.dal.models.control import (
        ApiKeyItem,
        ApiKeysByOwner,
        TenantConfigItem,
        TenantItem,
        TenantsByCreated,
        TenantsByStatus,
        UsageItem,
    )
    from chalicelib.dal.models.customers import (
        CounterItem,
        CustomerItem,
        CustomersByCreated,
        TagItem,
        UniqueItem,
    )
    from chalicelib.dal.models.loyalty import (
        AccountsByTierEvaluation,
        InteractionItem,
        InteractionsByType,
        LedgerItem,
        LotItem,
        LotsByExpiry,
        OrderItem,
        PointsItem,
        PurchaseTallyItem,
    )
    from chalicelib.dal.models.privacy import ErasureItem
    from chalicelib.dal.models.segments import (
        FailedEventsByTime,
        SegmentCountItem,
        SegmentDefinitionItem,
        SegmentEventItem,
        SegmentMemberItem,
        SegmentStateItem,
        SegmentStatesByDueDay,
    )
    from chalicelib.dal.models.tenant_index import TenantIndexEntry, TenantItemsIndex
    from chalicelib.dal.models.tickets import (
        CustomerTicketItem,
        CustomerTicketsByAssignee,
        PublicTicketComments,
        TicketCommentItem,
        TicketEventItem,
        TicketEventsByTicket,
        TicketFields,
        TicketItem,
        TicketsByDue,
        TicketsByStatus,
        TicketsByStatusAndPriority,
    )

__all__ = [
    "UNBOUND",
    "AccountsByTierEvaluation",
    "AnalyticsCounterItem",
    "ApiKeyItem",
    "ApiKeysByOwner",
    "AuditDigestItem",
    "AuditEntriesByAction",
    "AuditEntriesByActor",
    "AuditEntriesByCustomer",
    "AuditEntryItem",
    "AuditTableModel",
    "AuditWindowItem",
    "ControlTableModel",
    "CounterItem",
    "CustomerAnalyticsItem",
    "CustomerItem",
    "CustomerTicketItem",
    "CustomerTicketsByAssignee",
    "CustomersByCreated",
    "DataTableModel",
    "ErasureItem",
    "FailedEventsByTime",
    "InteractionItem",
    "InteractionsByType",
    "LedgerItem",
    "LotItem",
    "LotsByExpiry",
    "OrderItem",
    "PointsItem",
    "PublicTicketComments",
    "PurchaseTallyItem",
    "SegmentCountItem",
    "SegmentDefinitionItem",
    "SegmentEventItem",
    "SegmentMemberItem",
    "SegmentStateItem",
    "SegmentStatesByDueDay",
    "TagItem",
    "TenantConfigItem",
    "TenantIndexEntry",
    "TenantItem",
    "TenantItemsIndex",
    "TenantsByCreated",
    "TenantsByStatus",
    "TicketCommentItem",
    "TicketEventItem",
    "TicketEventsByTicket",
    "TicketFields",
    "TicketItem",
    "TicketsByDue",
    "TicketsByStatus",
    "TicketsByStatusAndPriority",
    "UniqueItem",
    "UsageItem",
    "import_all_models",
]

_SUBMODULE_OF: dict[str, str] = {
    "UNBOUND": "base",
    "DataTableModel": "base",
    "ControlTableModel": "base",
    "AuditTableModel": "base",
    "CustomersByCreated": "customers",
    "CustomerItem": "customers",
    "CounterItem": "customers",
    "UniqueItem": "customers",
    "TagItem": "customers",
    "TenantsByCreated": "control",
    "ApiKeysByOwner": "control",
    "TenantsByStatus": "control",
    "TenantItem": "control",
    "ApiKeyItem": "control",
    "TenantConfigItem": "control",
    "UsageItem": "control",
    "TenantItemsIndex": "tenant_index",
    "TenantIndexEntry": "tenant_index",
    "TicketsByStatus": "tickets",
    "TicketsByStatusAndPriority": "tickets",
    "TicketsByDue": "tickets",
    "CustomerTicketsByAssignee": "tickets",
    "TicketEventsByTicket": "tickets",
    "PublicTicketComments": "tickets",
    "TicketFields": "tickets",
    "TicketItem": "tickets",
    "CustomerTicketItem": "tickets",
    "TicketCommentItem": "tickets",
    "TicketEventItem": "tickets",
    "InteractionsByType": "loyalty",
    "LotsByExpiry": "loyalty",
    "AccountsByTierEvaluation": "loyalty",
    "InteractionItem": "loyalty",
    "PointsItem": "loyalty",
    "LedgerItem": "loyalty",
    "LotItem": "loyalty",
    "PurchaseTallyItem": "loyalty",
    "OrderItem": "loyalty",
    "SegmentStatesByDueDay": "segments",
    "SegmentStateItem": "segments",
    "SegmentMemberItem": "segments",
    "SegmentCountItem": "segments",
    "SegmentDefinitionItem": "segments",
    "FailedEventsByTime": "segments",
    "SegmentEventItem": "segments",
    "AuditEntriesByCustomer": "audit",
    "AuditEntriesByActor": "audit",
    "AuditEntriesByAction": "audit",
    "AuditEntryItem": "audit",
    "AuditDigestItem": "audit",
    "AuditWindowItem": "audit",
    "ErasureItem": "privacy",
    "CustomerAnalyticsItem": "analytics",
    "AnalyticsCounterItem": "analytics",
}
SUBMODULES = tuple(dict.fromkeys(_SUBMODULE_OF.values()))
FEATURE_MODEL_MODULES = (
    "chalicelib.dal.campaign_models",
    "chalicelib.dal.duplicates_models",
    "chalicelib.dal.feedback_models",
    "chalicelib.dal.import_models",
    "chalicelib.dal.merge_models",
    "chalicelib.dal.rewards_models",
)
"""The features' own item model modules, outside this package (each imported by its DAL)."""


def __getattr__(name: str) -> Any:
    submodule = _SUBMODULE_OF.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULE_OF})


def import_all_models() -> None:
    """Define every item model: this package's and the features' own modules' (each module
    is imported once)."""
    for submodule in SUBMODULES:
        importlib.import_module(f"{__name__}.{submodule}")
    for module in FEATURE_MODEL_MODULES:
        importlib.import_module(module)

"""Who may call what: one declarative table of (method, route) → allowed roles.

A route missing from the table is refused for everyone, and a test walks the table
against the registered routes, so a new route cannot ship without a rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.domain.errors import Forbidden, NotAuthenticated
from chalicelib.domain.tenancy import Principal, Role

TENANT_READERS = frozenset({Role.ADMIN, Role.STAFF, Role.READONLY})
TENANT_WRITERS = frozenset({Role.ADMIN, Role.STAFF})
TENANT_ADMINS = frozenset({Role.ADMIN})
PLATFORM = frozenset({Role.PLATFORM_ADMIN})
TICKET_USERS = TENANT_WRITERS | {Role.APP}
TICKET_READERS = TENANT_READERS | {Role.APP}


@dataclass(frozen=True)
class RouteAccess:
    """`roles` may call the route; a role in `only_with_query` may call it only with
    exactly those query parameters (the app role looks customers up by external id)."""

    roles: frozenset[Role]
    public: bool = False
    only_with_query: Mapping[Role, frozenset[str]] = field(default_factory=dict)


PUBLIC_ROUTE = RouteAccess(roles=frozenset(), public=True)

ACCESS: dict[tuple[str, str], RouteAccess] = {
    ("GET", "/v1/openapi.json"): PUBLIC_ROUTE,
    ("GET", "/docs"): PUBLIC_ROUTE,
    ("GET", "/docs/{asset}"): PUBLIC_ROUTE,
    ("POST", "/v1/admin/tenants"): RouteAccess(PLATFORM),
    ("GET", "/v1/admin/tenants"): RouteAccess(PLATFORM),
    ("GET", "/v1/admin/tenants/{tenant_id}"): RouteAccess(PLATFORM),
    ("PATCH", "/v1/admin/tenants/{tenant_id}"): RouteAccess(PLATFORM),
    ("DELETE", "/v1/admin/tenants/{tenant_id}"): RouteAccess(PLATFORM),
    ("POST", "/v1/admin/tenants/{tenant_id}/suspend"): RouteAccess(PLATFORM),
    ("POST", "/v1/admin/tenants/{tenant_id}/reactivate"): RouteAccess(PLATFORM),
    ("POST", "/v1/admin/tenants/{tenant_id}/api-keys"): RouteAccess(PLATFORM),
    ("GET", "/v1/admin/tenants/{tenant_id}/api-keys"): RouteAccess(PLATFORM),
    ("DELETE", "/v1/admin/tenants/{tenant_id}/api-keys/{key_id}"): RouteAccess(PLATFORM),
    ("GET", "/v1/admin/tenants/{tenant_id}/usage"): RouteAccess(PLATFORM),
    ("POST", "/v1/api-keys"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/api-keys"): RouteAccess(TENANT_ADMINS),
    ("POST", "/v1/api-keys/{key_id}/rotate"): RouteAccess(TENANT_ADMINS),
    ("DELETE", "/v1/api-keys/{key_id}"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/config"): RouteAccess(TENANT_ADMINS),
    ("PUT", "/v1/config"): RouteAccess(TENANT_ADMINS),
    ("POST", "/v1/customers"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/customers"): RouteAccess(
        TENANT_READERS | {Role.APP},
        only_with_query={Role.APP: frozenset({"external_id"})},
    ),
    ("GET", "/v1/customers/{customer_id}"): RouteAccess(TENANT_READERS | {Role.APP}),
    ("PATCH", "/v1/customers/{customer_id}"): RouteAccess(TENANT_WRITERS),
    ("DELETE", "/v1/customers/{customer_id}"): RouteAccess(TENANT_WRITERS),
    ("POST", "/v1/customers/{customer_id}/interactions"): RouteAccess(TENANT_WRITERS | {Role.APP}),
    ("POST", "/v1/interactions:batch"): RouteAccess(TENANT_WRITERS | {Role.APP}),
    ("GET", "/v1/segments"): RouteAccess(TENANT_READERS),
    ("POST", "/v1/segments"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/segments/{segment_id}"): RouteAccess(TENANT_READERS),
    ("PUT", "/v1/segments/{segment_id}"): RouteAccess(TENANT_ADMINS),
    ("DELETE", "/v1/segments/{segment_id}"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/segments/{segment_id}/members"): RouteAccess(TENANT_READERS),
    ("GET", "/v1/customers/{customer_id}/segments"): RouteAccess(TENANT_READERS | {Role.APP}),
    ("GET", "/v1/events/failed"): RouteAccess(TENANT_ADMINS),
    ("POST", "/v1/events/{event_id}/replay"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/audit"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/audit/verify"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/audit/alerts"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/customers/{customer_id}/interactions"): RouteAccess(TENANT_READERS),
    ("GET", "/v1/customers/{customer_id}/points"): RouteAccess(TENANT_READERS | {Role.APP}),
    ("GET", "/v1/customers/{customer_id}/points/transactions"): RouteAccess(TENANT_READERS),
    ("POST", "/v1/customers/{customer_id}/points/redeem"): RouteAccess(TENANT_WRITERS),
    ("POST", "/v1/customers/{customer_id}/points/adjust"): RouteAccess(TENANT_WRITERS),
    # Tickets. Enforced in the service on top: only admins cancel; app keys see and write
    # public comments only, and rate for the ticket's customer only.
    ("POST", "/v1/tickets"): RouteAccess(TICKET_USERS),
    ("GET", "/v1/tickets"): RouteAccess(
        TICKET_READERS,
        only_with_query={Role.APP: frozenset({"customer_id", "limit", "cursor"})},
    ),
    ("GET", "/v1/tickets/{ticket_id}"): RouteAccess(TICKET_READERS),
    ("PATCH", "/v1/tickets/{ticket_id}"): RouteAccess(TENANT_WRITERS),
    ("POST", "/v1/tickets/{ticket_id}/transitions"): RouteAccess(TENANT_WRITERS),
    ("POST", "/v1/tickets/{ticket_id}/comments"): RouteAccess(TICKET_USERS),
    ("GET", "/v1/tickets/{ticket_id}/comments"): RouteAccess(TICKET_READERS),
    ("POST", "/v1/tickets/{ticket_id}/rating"): RouteAccess(TICKET_USERS),
    ("GET", "/v1/tickets/{ticket_id}/events"): RouteAccess(TENANT_READERS),
}


def access_for(method: str, route: str) -> RouteAccess | None:
    return ACCESS.get((method, route))


def authorise(
    rule: RouteAccess | None, principal: Principal | None, query: Mapping[str, str]
) -> None:
    """Raise unless `principal` may make this call."""
    if rule is not None and rule.public:
        return
    if principal is None:
        raise NotAuthenticated("send an API key as 'Authorization: Bearer <key>'")
    if rule is None or principal.role not in rule.roles:
        if principal.is_platform_admin:
            raise Forbidden("the platform-admin key is accepted on /v1/admin routes only")
        if rule is not None and Role.PLATFORM_ADMIN in rule.roles:
            raise Forbidden("this route needs the platform-admin key")
        raise Forbidden(f"a key with role '{principal.role}' may not make this request")
    allowed_query = rule.only_with_query.get(principal.role)
    if allowed_query is not None and (not query or set(query) - allowed_query):
        names = ", ".join(sorted(allowed_query))
        raise Forbidden(f"a key with role '{principal.role}' may only look up by {names}")

"""Who may call what: one declarative table of (method, route) → allowed roles.

A route missing from the table is refused for everyone, and a test walks the table
against the registered routes, so a new route cannot ship without a rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.domain.errors import Forbidden, NotAuthenticated, NotFound
from chalicelib.domain.tenancy import Principal, Role

TENANT_READERS = frozenset({Role.ADMIN, Role.STAFF, Role.READONLY})
TENANT_WRITERS = frozenset({Role.ADMIN, Role.STAFF})
TENANT_ADMINS = frozenset({Role.ADMIN})
PLATFORM = frozenset({Role.PLATFORM_ADMIN})
# A customer token (role CUSTOMER) acts for one customer: it may call the routes that
# concern a customer, and `authorise` holds every customer id the path or query names to
# the token's own. A bare app key only mints customer tokens and signs customers up.
CUSTOMER_READERS = TENANT_READERS | {Role.CUSTOMER}
CUSTOMER_WRITERS = TENANT_WRITERS | {Role.CUSTOMER}
TICKET_USERS = CUSTOMER_WRITERS
TICKET_READERS = CUSTOMER_READERS
SCOPED_PARAMETER = "customer_id"
# Purchases recorded with these credentials are capped (tenant config `app_purchases`).
APP_CREDENTIALS = frozenset({Role.APP, Role.CUSTOMER})


@dataclass(frozen=True)
class RouteAccess:
    """`roles` may call the route; a role in `only_with_query` may call it only with
    exactly those query parameters (the app role looks customers up by external id); a
    parameter in `query_roles` may be sent only by the roles named for it (only admins
    erase a customer)."""

    roles: frozenset[Role]
    public: bool = False
    only_with_query: Mapping[Role, frozenset[str]] = field(default_factory=dict)
    query_roles: Mapping[str, frozenset[Role]] = field(default_factory=dict)


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
    ("POST", "/v1/customer-tokens"): RouteAccess(frozenset({Role.APP})),
    ("POST", "/v1/customers"): RouteAccess(TENANT_WRITERS | {Role.APP}),
    ("GET", "/v1/customers"): RouteAccess(TENANT_READERS),
    ("GET", "/v1/customers/{customer_id}"): RouteAccess(CUSTOMER_READERS),
    ("PATCH", "/v1/customers/{customer_id}"): RouteAccess(CUSTOMER_WRITERS),
    ("DELETE", "/v1/customers/{customer_id}"): RouteAccess(
        TENANT_WRITERS, query_roles={"erase": TENANT_ADMINS}
    ),
    ("GET", "/v1/customers/{customer_id}/export"): RouteAccess(TENANT_ADMINS),
    ("POST", "/v1/customers/{customer_id}/merge"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/customers/{customer_id}/merges/{merge_id}"): RouteAccess(TENANT_READERS),
    ("POST", "/v1/customers/{customer_id}/unmerge"): RouteAccess(TENANT_WRITERS),
    ("POST", "/v1/customers/{customer_id}/interactions"): RouteAccess(CUSTOMER_WRITERS),
    ("POST", "/v1/interactions:batch"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/segments"): RouteAccess(TENANT_READERS),
    ("POST", "/v1/segments"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/segments/{segment_id}"): RouteAccess(TENANT_READERS),
    ("PUT", "/v1/segments/{segment_id}"): RouteAccess(TENANT_ADMINS),
    ("DELETE", "/v1/segments/{segment_id}"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/segments/{segment_id}/members"): RouteAccess(TENANT_READERS),
    ("GET", "/v1/customers/{customer_id}/segments"): RouteAccess(CUSTOMER_READERS),
    ("GET", "/v1/events/failed"): RouteAccess(TENANT_ADMINS),
    ("POST", "/v1/events/{event_id}/replay"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/audit"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/audit/verify"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/audit/alerts"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/customers/{customer_id}/interactions"): RouteAccess(CUSTOMER_READERS),
    ("GET", "/v1/customers/{customer_id}/points"): RouteAccess(CUSTOMER_READERS),
    ("GET", "/v1/customers/{customer_id}/points/transactions"): RouteAccess(CUSTOMER_READERS),
    ("POST", "/v1/customers/{customer_id}/points/redeem"): RouteAccess(CUSTOMER_WRITERS),
    ("POST", "/v1/customers/{customer_id}/points/adjust"): RouteAccess(TENANT_WRITERS),
    # Tickets. Enforced in the service on top: only admins cancel; customer tokens reach
    # their customer's tickets only, see and write public comments only, and rate their
    # own tickets only.
    ("POST", "/v1/tickets"): RouteAccess(TICKET_USERS),
    ("GET", "/v1/tickets"): RouteAccess(
        TICKET_READERS,
        only_with_query={Role.CUSTOMER: frozenset({"customer_id", "limit", "cursor"})},
    ),
    ("GET", "/v1/tickets/{ticket_id}"): RouteAccess(TICKET_READERS),
    ("PATCH", "/v1/tickets/{ticket_id}"): RouteAccess(TENANT_WRITERS),
    ("POST", "/v1/tickets/{ticket_id}/transitions"): RouteAccess(TENANT_WRITERS),
    ("POST", "/v1/tickets/{ticket_id}/comments"): RouteAccess(TICKET_USERS),
    ("GET", "/v1/tickets/{ticket_id}/comments"): RouteAccess(TICKET_READERS),
    ("POST", "/v1/tickets/{ticket_id}/rating"): RouteAccess(TICKET_USERS),
    ("GET", "/v1/tickets/{ticket_id}/events"): RouteAccess(TENANT_READERS),
    # Rewards catalogue (issue 15): the merchant's people manage it (readonly keys read
    # it); a customer token lists and redeems for its own customer only.
    ("POST", "/v1/rewards"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/rewards"): RouteAccess(TENANT_READERS),
    ("GET", "/v1/rewards/{reward_id}"): RouteAccess(TENANT_READERS),
    ("PATCH", "/v1/rewards/{reward_id}"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/customers/{customer_id}/rewards"): RouteAccess(CUSTOMER_READERS),
    ("GET", "/v1/customers/{customer_id}/rewards/available"): RouteAccess(CUSTOMER_READERS),
    ("POST", "/v1/customers/{customer_id}/rewards/{reward_id}/redeem"): RouteAccess(
        CUSTOMER_WRITERS
    ),
    # Offers and coupons (issue 15): the merchant's people manage offers and issue coupons;
    # a coupon is checked and redeemed by the till (admin, staff) or by a customer token
    # for its own customer's coupons only (enforced in the service: another's is 404).
    ("POST", "/v1/offers"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/offers"): RouteAccess(TENANT_READERS),
    ("GET", "/v1/offers/{offer_id}"): RouteAccess(TENANT_READERS),
    ("PATCH", "/v1/offers/{offer_id}"): RouteAccess(TENANT_WRITERS),
    ("POST", "/v1/offers/{offer_id}/coupons"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/coupons/{code}"): RouteAccess(CUSTOMER_READERS),
    ("POST", "/v1/coupons/{code}/redeem"): RouteAccess(CUSTOMER_WRITERS),
    ("GET", "/v1/customers/{customer_id}/coupons"): RouteAccess(CUSTOMER_READERS),
    ("GET", "/v1/customers/{customer_id}/offers"): RouteAccess(CUSTOMER_READERS),
    # Analytics: tenant-wide figures, for the merchant's people (as segment reads), not
    # for customer tokens, which act for one customer.
    ("GET", "/v1/analytics/summary"): RouteAccess(TENANT_READERS),
    ("GET", "/v1/analytics/timeseries"): RouteAccess(TENANT_READERS),
    ("GET", "/v1/analytics/cohorts"): RouteAccess(TENANT_READERS),
    # Duplicate detection (issue 16): the merchant's people who clean the data.
    ("GET", "/v1/customers/{customer_id}/duplicates"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/duplicates"): RouteAccess(TENANT_WRITERS),
    ("POST", "/v1/duplicates/{pair_id}/dismiss"): RouteAccess(TENANT_WRITERS),
    # CSV exports of many customers' personal data: admins only.
    ("GET", "/v1/customers/export"): RouteAccess(TENANT_ADMINS),
    ("GET", "/v1/segments/{segment_id}/export"): RouteAccess(TENANT_ADMINS),
    # Campaigns (issue 15): admin and staff keys manage them; readonly keys read them.
    ("POST", "/v1/campaigns"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/campaigns"): RouteAccess(TENANT_READERS),
    ("GET", "/v1/campaigns/{campaign_id}"): RouteAccess(TENANT_READERS),
    ("PATCH", "/v1/campaigns/{campaign_id}"): RouteAccess(TENANT_WRITERS),
    ("POST", "/v1/campaigns/{campaign_id}/launch"): RouteAccess(TENANT_WRITERS),
    ("POST", "/v1/campaigns/{campaign_id}/cancel"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/campaigns/{campaign_id}/results"): RouteAccess(TENANT_READERS),
    # Feedback (issue 15): a customer token answers a survey for its own customer; the
    # follow-up list and NPS figures are tenant-wide.
    ("POST", "/v1/customers/{customer_id}/feedback"): RouteAccess(CUSTOMER_WRITERS),
    ("GET", "/v1/feedback"): RouteAccess(TENANT_READERS),
    ("GET", "/v1/analytics/nps"): RouteAccess(TENANT_READERS),
    # Bulk imports write many customers at once: the merchant's admin and staff keys only.
    ("POST", "/v1/imports"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/imports"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/imports/{import_id}"): RouteAccess(TENANT_WRITERS),
    ("PUT", "/v1/imports/{import_id}/file"): RouteAccess(TENANT_WRITERS),
    ("POST", "/v1/imports/{import_id}/start"): RouteAccess(TENANT_WRITERS),
    ("GET", "/v1/imports/{import_id}/errors"): RouteAccess(TENANT_WRITERS),
}


def holds_app_credentials(principal: Principal | None) -> bool:
    return principal is not None and principal.role in APP_CREDENTIALS


def access_for(method: str, route: str) -> RouteAccess | None:
    return ACCESS.get((method, route))


def authorise(
    rule: RouteAccess | None,
    principal: Principal | None,
    query: Mapping[str, str],
    path: Mapping[str, str] | None = None,
) -> None:
    """Raise unless `principal` may make this call. A customer token naming another
    customer in the path or query gets 404, as if that customer did not exist."""
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
    for name, roles in rule.query_roles.items():
        if name in query and principal.role not in roles:
            raise Forbidden(f"a key with role '{principal.role}' may not send '{name}'")
    allowed_query = rule.only_with_query.get(principal.role)
    if allowed_query is not None and (not query or set(query) - allowed_query):
        names = ", ".join(sorted(allowed_query))
        raise Forbidden(f"a key with role '{principal.role}' may only look up by {names}")
    _hold_to_customer(principal, query, path or {})


def _hold_to_customer(
    principal: Principal, query: Mapping[str, str], path: Mapping[str, str]
) -> None:
    """A customer token reaches its own customer only: any other reads as missing."""
    if principal.role is Role.CUSTOMER and principal.customer_id is None:
        raise Forbidden("the customer role is a customer token's, and names its customer")
    if principal.customer_id is None:
        return
    for named in (path.get(SCOPED_PARAMETER), query.get(SCOPED_PARAMETER)):
        if named is not None and named != principal.customer_id:
            raise NotFound(f"customer {named} does not exist")

"""The route table: which view serves each (method, path).

`app.py` registers these routes through one blueprint whose views import their module on
first use, so a cold Lambda imports only what the routes it serves need. Access rules for
the same (method, path) pairs live in `chalicelib.api.access`; a test keeps the two tables,
and the views' own declarations, in step.
"""

from __future__ import annotations

from collections.abc import Callable

from chalice import Blueprint, Response

from chalicelib.lazy import resolve

_CUSTOMERS = "chalicelib.api.customers"
_ADMIN = "chalicelib.api.admin"
_TENANT = "chalicelib.api.tenant_settings"
_TICKETS = "chalicelib.api.tickets"
_DOCS = "chalicelib.api.docs"
_INTERACTIONS = "chalicelib.api.interactions"
_POINTS = "chalicelib.api.loyalty"
_SEGMENTS = "chalicelib.api.segments"
_EVENTS = "chalicelib.api.events"
_AUDIT = "chalicelib.api.audit"
_PRIVACY = "chalicelib.api.privacy"
_ANALYTICS = "chalicelib.api.analytics"
_CUSTOMER_TOKENS = "chalicelib.api.customer_tokens"
_DUPLICATES = "chalicelib.api.duplicates"
_EXPORTS = "chalicelib.api.exports"
_REWARDS = "chalicelib.api.rewards"
_OFFERS = "chalicelib.api.offers"
_CAMPAIGNS = "chalicelib.api.campaigns"
_FEEDBACK = "chalicelib.api.feedback"
_IMPORTS = "chalicelib.api.imports"
_MERGE = "chalicelib.api.merge"

ROUTES: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "/v1/customer-tokens"): (_CUSTOMER_TOKENS, "mint_customer_token"),
    ("POST", "/v1/customers"): (_CUSTOMERS, "create_customer"),
    ("GET", "/v1/customers"): (_CUSTOMERS, "list_customers"),
    ("GET", "/v1/customers/{customer_id}"): (_CUSTOMERS, "get_customer"),
    ("PATCH", "/v1/customers/{customer_id}"): (_CUSTOMERS, "update_customer"),
    ("DELETE", "/v1/customers/{customer_id}"): (_CUSTOMERS, "delete_customer"),
    ("GET", "/v1/customers/{customer_id}/export"): (_PRIVACY, "export_customer"),
    ("POST", "/v1/customers/{customer_id}/merge"): (_MERGE, "merge_customers"),
    ("GET", "/v1/customers/{customer_id}/merges/{merge_id}"): (_MERGE, "get_merge"),
    ("POST", "/v1/customers/{customer_id}/unmerge"): (_MERGE, "unmerge_customer"),
    ("POST", "/v1/customers/{customer_id}/interactions"): (_INTERACTIONS, "record_interaction"),
    ("GET", "/v1/customers/{customer_id}/interactions"): (_INTERACTIONS, "list_interactions"),
    ("POST", "/v1/interactions:batch"): (_INTERACTIONS, "record_interactions_batch"),
    ("GET", "/v1/customers/{customer_id}/points"): (_POINTS, "get_points"),
    ("GET", "/v1/customers/{customer_id}/points/transactions"): (
        _POINTS,
        "list_points_transactions",
    ),
    ("POST", "/v1/customers/{customer_id}/points/redeem"): (_POINTS, "redeem_points"),
    ("POST", "/v1/customers/{customer_id}/points/adjust"): (_POINTS, "adjust_points"),
    ("POST", "/v1/tickets"): (_TICKETS, "create_ticket"),
    ("GET", "/v1/tickets"): (_TICKETS, "list_tickets"),
    ("GET", "/v1/tickets/{ticket_id}"): (_TICKETS, "get_ticket"),
    ("PATCH", "/v1/tickets/{ticket_id}"): (_TICKETS, "update_ticket"),
    ("POST", "/v1/tickets/{ticket_id}/transitions"): (_TICKETS, "transition_ticket"),
    ("POST", "/v1/tickets/{ticket_id}/comments"): (_TICKETS, "create_comment"),
    ("GET", "/v1/tickets/{ticket_id}/comments"): (_TICKETS, "list_comments"),
    ("POST", "/v1/tickets/{ticket_id}/rating"): (_TICKETS, "rate_ticket"),
    ("GET", "/v1/tickets/{ticket_id}/events"): (_TICKETS, "list_events"),
    ("GET", "/v1/segments"): (_SEGMENTS, "list_segments"),
    ("POST", "/v1/segments"): (_SEGMENTS, "create_segment"),
    ("GET", "/v1/segments/{segment_id}"): (_SEGMENTS, "get_segment"),
    ("PUT", "/v1/segments/{segment_id}"): (_SEGMENTS, "replace_segment"),
    ("DELETE", "/v1/segments/{segment_id}"): (_SEGMENTS, "delete_segment"),
    ("GET", "/v1/segments/{segment_id}/members"): (_SEGMENTS, "list_segment_members"),
    ("GET", "/v1/customers/{customer_id}/segments"): (_SEGMENTS, "get_customer_segments"),
    ("GET", "/v1/customers/{customer_id}/duplicates"): (
        _DUPLICATES,
        "list_customer_duplicates",
    ),
    ("GET", "/v1/duplicates"): (_DUPLICATES, "list_duplicates"),
    ("POST", "/v1/duplicates/{pair_id}/dismiss"): (_DUPLICATES, "dismiss_duplicate"),
    ("GET", "/v1/events/failed"): (_EVENTS, "list_failed_events"),
    ("POST", "/v1/events/{event_id}/replay"): (_EVENTS, "replay_event"),
    ("GET", "/v1/audit"): (_AUDIT, "list_audit_entries"),
    ("GET", "/v1/audit/verify"): (_AUDIT, "verify_audit_trail"),
    ("GET", "/v1/audit/alerts"): (_AUDIT, "list_audit_alerts"),
    ("GET", "/v1/analytics/summary"): (_ANALYTICS, "get_summary"),
    ("GET", "/v1/analytics/timeseries"): (_ANALYTICS, "get_timeseries"),
    ("GET", "/v1/analytics/cohorts"): (_ANALYTICS, "get_cohorts"),
    ("GET", "/v1/customers/export"): (_EXPORTS, "export_customers"),
    ("GET", "/v1/segments/{segment_id}/export"): (_EXPORTS, "export_segment"),
    ("POST", "/v1/rewards"): (_REWARDS, "create_reward"),
    ("GET", "/v1/rewards"): (_REWARDS, "list_rewards"),
    ("GET", "/v1/rewards/{reward_id}"): (_REWARDS, "get_reward"),
    ("PATCH", "/v1/rewards/{reward_id}"): (_REWARDS, "update_reward"),
    ("GET", "/v1/customers/{customer_id}/rewards"): (_REWARDS, "list_customer_redemptions"),
    ("GET", "/v1/customers/{customer_id}/rewards/available"): (
        _REWARDS,
        "list_available_rewards",
    ),
    ("POST", "/v1/customers/{customer_id}/rewards/{reward_id}/redeem"): (
        _REWARDS,
        "redeem_reward",
    ),
    ("POST", "/v1/offers"): (_OFFERS, "create_offer"),
    ("GET", "/v1/offers"): (_OFFERS, "list_offers"),
    ("GET", "/v1/offers/{offer_id}"): (_OFFERS, "get_offer"),
    ("PATCH", "/v1/offers/{offer_id}"): (_OFFERS, "update_offer"),
    ("POST", "/v1/offers/{offer_id}/coupons"): (_OFFERS, "issue_coupon"),
    ("GET", "/v1/coupons/{code}"): (_OFFERS, "check_coupon"),
    ("POST", "/v1/coupons/{code}/redeem"): (_OFFERS, "redeem_coupon"),
    ("GET", "/v1/customers/{customer_id}/coupons"): (_OFFERS, "list_customer_coupons"),
    ("GET", "/v1/customers/{customer_id}/offers"): (_OFFERS, "list_customer_offers"),
    ("POST", "/v1/campaigns"): (_CAMPAIGNS, "create_campaign"),
    ("GET", "/v1/campaigns"): (_CAMPAIGNS, "list_campaigns"),
    ("GET", "/v1/campaigns/{campaign_id}"): (_CAMPAIGNS, "get_campaign"),
    ("PATCH", "/v1/campaigns/{campaign_id}"): (_CAMPAIGNS, "update_campaign"),
    ("POST", "/v1/campaigns/{campaign_id}/launch"): (_CAMPAIGNS, "launch_campaign"),
    ("POST", "/v1/campaigns/{campaign_id}/cancel"): (_CAMPAIGNS, "cancel_campaign"),
    ("GET", "/v1/campaigns/{campaign_id}/results"): (_CAMPAIGNS, "get_campaign_results"),
    ("POST", "/v1/customers/{customer_id}/feedback"): (_FEEDBACK, "record_feedback"),
    ("GET", "/v1/feedback"): (_FEEDBACK, "list_feedback"),
    ("GET", "/v1/analytics/nps"): (_FEEDBACK, "get_nps"),
    ("POST", "/v1/api-keys"): (_TENANT, "create_key"),
    ("GET", "/v1/api-keys"): (_TENANT, "list_keys"),
    ("POST", "/v1/api-keys/{key_id}/rotate"): (_TENANT, "rotate_key"),
    ("DELETE", "/v1/api-keys/{key_id}"): (_TENANT, "revoke_key"),
    ("GET", "/v1/config"): (_TENANT, "get_config"),
    ("PUT", "/v1/config"): (_TENANT, "put_config"),
    ("POST", "/v1/admin/tenants"): (_ADMIN, "create_tenant"),
    ("GET", "/v1/admin/tenants"): (_ADMIN, "list_tenants"),
    ("GET", "/v1/admin/tenants/{tenant_id}"): (_ADMIN, "get_tenant"),
    ("PATCH", "/v1/admin/tenants/{tenant_id}"): (_ADMIN, "update_tenant"),
    ("DELETE", "/v1/admin/tenants/{tenant_id}"): (_ADMIN, "delete_tenant"),
    ("POST", "/v1/admin/tenants/{tenant_id}/suspend"): (_ADMIN, "suspend_tenant"),
    ("POST", "/v1/admin/tenants/{tenant_id}/reactivate"): (_ADMIN, "reactivate_tenant"),
    ("POST", "/v1/admin/tenants/{tenant_id}/api-keys"): (_ADMIN, "create_tenant_key"),
    ("GET", "/v1/admin/tenants/{tenant_id}/api-keys"): (_ADMIN, "list_tenant_keys"),
    ("DELETE", "/v1/admin/tenants/{tenant_id}/api-keys/{key_id}"): (_ADMIN, "revoke_tenant_key"),
    ("GET", "/v1/admin/tenants/{tenant_id}/usage"): (_ADMIN, "tenant_usage"),
    ("POST", "/v1/imports"): (_IMPORTS, "create_import"),
    ("GET", "/v1/imports"): (_IMPORTS, "list_imports"),
    ("GET", "/v1/imports/{import_id}"): (_IMPORTS, "get_import"),
    ("PUT", "/v1/imports/{import_id}/file"): (_IMPORTS, "upload_import_file"),
    ("POST", "/v1/imports/{import_id}/start"): (_IMPORTS, "start_import"),
    ("GET", "/v1/imports/{import_id}/errors"): (_IMPORTS, "list_import_errors"),
    ("GET", "/v1/openapi.json"): (_DOCS, "openapi_document"),
    ("GET", "/docs"): (_DOCS, "docs_page"),
    ("GET", "/docs/{asset}"): (_DOCS, "docs_asset"),
}


def load_all_views() -> None:
    """Import every view module (the OpenAPI document describes them all)."""
    for module, name in ROUTES.values():
        resolve(module, name)


def _lazy_view(blueprint: Blueprint, module: str, name: str) -> Callable[..., Response]:
    def view(**path_params: str) -> Response:
        response: Response = resolve(module, name)(blueprint.current_request, **path_params)
        return response

    return view


def api_blueprint() -> Blueprint:
    blueprint = Blueprint(__name__)
    for (method, path), (module, name) in ROUTES.items():
        view = _lazy_view(blueprint, module, name)
        view.__name__ = f"{method.lower()}_{name}"
        blueprint.route(path, methods=[method], content_types=["*/*"], name=view.__name__)(view)
    return blueprint

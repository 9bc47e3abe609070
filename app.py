"""The Chalice application: wiring only (blueprints, middleware, event handlers)."""

from chalice import Chalice, Cron, Rate
from chalice.app import CloudWatchEvent

from chalicelib import jobs
from chalicelib.api.admin import admin_api
from chalicelib.api.customers import customers_api
from chalicelib.api.docs import docs_api
from chalicelib.api.interactions import interactions_api
from chalicelib.api.loyalty import loyalty_api
from chalicelib.api.middleware import http_middleware
from chalicelib.api.tenant_settings import tenant_settings_api
from chalicelib.domain.clock import utc_now

app = Chalice(app_name="customer-ops")

app.register_blueprint(customers_api)
app.register_blueprint(admin_api)
app.register_blueprint(tenant_settings_api)
app.register_blueprint(interactions_api)
app.register_blueprint(loyalty_api)
app.register_blueprint(docs_api)
app.register_middleware(http_middleware(app), "http")

purge_deleted_tenants = app.schedule(Rate(1, unit=Rate.MINUTES))(jobs.purge_deleted_tenants)


@app.schedule(Cron(5, 0, "*", "*", "?", "*"), name="daily-loyalty")
def daily_loyalty(event: CloudWatchEvent) -> None:
    """00:05 UTC: record today's point expiries and due tier evaluations."""
    from chalicelib.services.loyalty_jobs import run_daily

    run_daily(utc_now().date())

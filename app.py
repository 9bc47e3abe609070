"""The Chalice application: wiring only (routes, middleware, scheduled functions)."""

from chalice import Chalice, Cron, Rate

from chalicelib.api.middleware import http_middleware
from chalicelib.api.routes import api_blueprint
from chalicelib.lazy import deferred

app = Chalice(app_name="customer-ops")

app.register_blueprint(api_blueprint())
app.register_middleware(http_middleware(app), "http")

purge_deleted_tenants = app.schedule(Rate(1, unit=Rate.MINUTES))(
    deferred("chalicelib.jobs", "purge_deleted_tenants")
)

daily_loyalty = app.schedule(Cron(5, 0, "*", "*", "?", "*"), name="daily_loyalty")(
    deferred("chalicelib.jobs", "daily_loyalty")
)

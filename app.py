"""The Chalice application: wiring only (blueprints, middleware, event handlers)."""

from chalice import Chalice, Rate

from chalicelib import jobs
from chalicelib.api.admin import admin_api
from chalicelib.api.customers import customers_api
from chalicelib.api.docs import docs_api
from chalicelib.api.middleware import http_middleware
from chalicelib.api.tenant_settings import tenant_settings_api

app = Chalice(app_name="customer-ops")

app.register_blueprint(customers_api)
app.register_blueprint(admin_api)
app.register_blueprint(tenant_settings_api)
app.register_blueprint(docs_api)
app.register_middleware(http_middleware(app), "http")

purge_deleted_tenants = app.schedule(Rate(1, unit=Rate.MINUTES))(jobs.purge_deleted_tenants)

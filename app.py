"""The Chalice application: wiring only (blueprints, middleware, event handlers)."""

from chalice import Chalice

from chalicelib.api.admin import admin_api
from chalicelib.api.customers import customers_api
from chalicelib.api.docs import docs_api
from chalicelib.api.middleware import http_middleware
from chalicelib.api.tickets import tickets_api

app = Chalice(app_name="customer-ops")

app.register_blueprint(customers_api)
app.register_blueprint(tickets_api)
app.register_blueprint(admin_api)
app.register_blueprint(docs_api)
app.register_middleware(http_middleware(app), "http")

"""The service's one Logger. Personal fields (name, email, phone, address, …) are never
passed to it: request logs carry ids, the route template and outcomes only."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="customer-ops")

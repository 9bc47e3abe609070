"""The smallest environment the settings accept, for tests of one setting at a time."""

from __future__ import annotations

DEPLOYED_ENVIRON = {
    "STAGE": "dev",
    "CONTROL_TABLE": "ctl",
    "DATA_TABLE": "data",
    "IDEMPOTENCY_TABLE": "idem",
    "AUDIT_TABLE": "audit",
    "AWS_REGION": "eu-west-1",
    "CURSOR_SECRET": "c" * 40,
}

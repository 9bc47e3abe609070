"""What the service logs while it handles personal values: ids, routes and outcomes, never
the values themselves."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from chalicelib.observability import log_output_to, logger
from tests.support.api import Api
from tests.support.personal_data import PERSONAL_VALUES, PROFILE, write_customer


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything the service's logger writes during the test, from INFO up (the suite
    otherwise logs warnings only)."""
    captured = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous, level = handler.stream, logger.log_level
    log_output_to(captured)
    logger.setLevel(logging.INFO)
    yield captured
    logger.setLevel(level)
    log_output_to(previous)


def _personal_values_in(text: str) -> list[str]:
    return [value for value in PERSONAL_VALUES if value in text.lower()]


def test_requests_carrying_personal_values_log_none_of_them(
    tenant_a: Api, log_lines: io.StringIO
) -> None:
    written = write_customer(tenant_a)
    path = f"/v1/customers/{written.id}"
    tenant_a.patch(path, {"name": "Zelda Q. Marlowe", "attributes": {"pet": "quixote"}})
    for query in ("email=zelda.quixote@example.org", "phone=%2B49309876543", "tag=quixotic-tag"):
        assert tenant_a.get(f"/v1/customers?{query}").status == 200
    tenant_a.post("/v1/customers", {"email": PROFILE["email"]}).problem(409)
    tenant_a.post("/v1/customers", {"email": "zelda-quixote-at-nowhere"}).problem(422)
    assert tenant_a.get(f"{path}/export").status == 200
    assert tenant_a.delete(f"{path}?erase=true").status == 204

    text = log_lines.getvalue()
    assert text.count('"message":"request"') >= 20, text[:2000]
    assert '"route":"GET /v1/customers/{customer_id}/export"' in text
    assert _personal_values_in(text) == []


def test_a_failure_is_logged_without_the_values_its_message_or_keys_carry(
    log_lines: io.StringIO,
) -> None:
    try:
        raise ValueError(f"could not store {PROFILE['email']} for {PROFILE['name']}")
    except ValueError:
        logger.exception(
            "store failed",
            customer_id="cus_1",
            email=PROFILE["email"],
            item={"NewImage": {"name": {"S": PROFILE["name"]}}, "sk": "PROFILE"},
            request={"body": {"address": PROFILE["address"], "subject": "Zelda's xylophone"}},
        )

    text = log_lines.getvalue()
    assert '"exception_name":"ValueError"' in text and "cus_1" in text and "PROFILE" in text
    assert _personal_values_in(text) == []

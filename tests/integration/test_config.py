"""The tenant configuration: defaults, versioned replacement, validation."""

from __future__ import annotations

import pytest

from chalicelib.settings import get_settings, reset_settings
from tests.support.api import Api


def test_a_new_tenant_reads_the_documented_defaults(tenant_a: Api) -> None:
    answer = tenant_a.get("/v1/config")

    assert answer.status == 200 and answer.headers["etag"] == '"0"'
    config = answer.json["config"]
    assert answer.json["version"] == 0
    assert config["loyalty"]["points_per_currency_unit"] in ("1", 1)
    assert config["loyalty"]["validity_days"] == 365
    assert [t["name"] for t in config["loyalty"]["tiers"]] == [
        "member",
        "silver",
        "gold",
        "platinum",
    ]
    assert config["tickets"]["reopen_window_days"] == 7
    assert config["webhook_url"] is None


def test_put_needs_if_match_and_versions_the_configuration(tenant_a: Api) -> None:
    document = {
        "loyalty": {"points_by_interaction_type": {"feedback": 10}},
        "webhook_url": "https://hooks.example.com/crm",
    }

    missing = tenant_a.request("PUT", "/v1/config", document)
    first = tenant_a.request("PUT", "/v1/config", document, headers={"If-Match": '"0"'})
    stale = tenant_a.request("PUT", "/v1/config", document, headers={"If-Match": '"0"'})
    read = tenant_a.get("/v1/config")

    missing.problem(428)
    assert first.status == 200 and first.json["version"] == 1 and first.headers["etag"] == '"1"'
    stale.problem(412)
    assert read.json["config"]["loyalty"]["points_by_interaction_type"] == {"feedback": 10}
    assert read.json["config"]["webhook_url"] == "https://hooks.example.com/crm"
    assert read.json["config"]["loyalty"]["validity_days"] == 365


def test_an_invalid_configuration_is_refused_and_nothing_changes(tenant_a: Api) -> None:
    bad = {
        "loyalty": {"tiers": [{"name": "a", "threshold": 10}, {"name": "b", "threshold": 5}]},
        "lifecycle": {"dormant_after_days": 100, "churned_after_days": 50},
        "colour": "red",
    }

    answer = tenant_a.request("PUT", "/v1/config", bad, headers={"If-Match": '"0"'})

    fields = {issue["field"] for issue in answer.problem(422)["errors"]}
    assert {"loyalty", "lifecycle", "colour"} <= fields
    assert tenant_a.get("/v1/config").json["version"] == 0


@pytest.fixture
def deployed_receiver_policy(tenant_a: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    """The tenant's API under a deployed stage's webhook policy (no local receivers). The
    settings are read here, once, and cached: Chalice's test client sets the `local`
    stage's variables again for each request, but the service reads the cached settings."""
    monkeypatch.setenv("WEBHOOK_LOCAL_RECEIVERS", "false")
    reset_settings()
    assert not get_settings().webhook_local_receivers
    return tenant_a


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/crm",
        "https://127.0.0.1/crm",
        "https://10.20.30.40/crm",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:127.0.0.1]/crm",
        "https://100.64.1.1/crm",
        "https://user:secret@hooks.example.com/crm",
        "https://localhost:8443/crm",
        "https://2130706433/",  # 127.0.0.1 spelt as a number
        "https://0x7f.1/",
        "https://localhost./crm",
    ],
)
def test_a_webhook_url_outside_the_receiver_policy_is_refused(
    deployed_receiver_policy: Api, url: str
) -> None:
    # Given a deployed stage's receiver policy
    tenant = deployed_receiver_policy
    # When the tenant saves a webhook_url that is not public https
    answer = tenant.request(
        "PUT",
        "/v1/config",
        {"webhook_url": url, "webhook_secret": "s" * 32},
        headers={"If-Match": '"0"'},
    )
    # Then it is a 422 naming webhook_url and nothing was stored
    problem = answer.problem(422)
    assert [issue["field"] for issue in problem["errors"]] == ["webhook_url"]
    assert tenant.get("/v1/config").json["version"] == 0


def test_a_malformed_whsec_secret_is_refused(tenant_a: Api) -> None:
    answer = tenant_a.request(
        "PUT",
        "/v1/config",
        {"webhook_url": "https://hooks.example.com/crm", "webhook_secret": "whsec_not base64!!"},
        headers={"If-Match": '"0"'},
    )

    problem = answer.problem(422)
    assert "webhook_secret" in {issue["field"] for issue in problem["errors"]}
    assert tenant_a.get("/v1/config").json["version"] == 0

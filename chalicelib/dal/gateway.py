"""API Gateway keys and usage plans: the only code that calls API Gateway's management API.

Every call is idempotent, so a change that failed half-way is completed by running it again:
a key is found by its name before one is created, adding a key to a usage plan it is
already in counts as done, a key is taken out of a usage plan only if it is in it, and
deleting a key that is gone counts as done. Anything else API Gateway answers (after
botocore's own retries) becomes `GatewayUnavailable`, before the caller records anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from chalicelib.domain.errors import GatewayUnavailable
from chalicelib.settings import get_settings

_ALREADY_DONE = {"ConflictException", "NotFoundException"}


@cache
def _client() -> Any:
    """Built on first use: boto3 is in the Lambda runtime, and most requests never need it."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "apigateway",
        region_name=get_settings().aws_region,
        config=Config(retries={"mode": "standard", "max_attempts": 4}),
    )


def reset_client() -> None:
    """Forget the client and the usage-plan ids (tests switch moto on and off)."""
    _client.cache_clear()
    _usage_plan_ids.cache_clear()


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        return str(response.get("Error", {}).get("Code"))
    return None


def _call(operation: str, tolerate: Iterable[str] = (), **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return getattr(_client(), operation)(**kwargs)
    except ClientError as exc:
        if _error_code(exc) in set(tolerate):
            return None
        raise GatewayUnavailable(f"API Gateway refused {operation}: {_error_code(exc)}") from exc
    except BotoCoreError as exc:
        raise GatewayUnavailable(f"API Gateway did not answer {operation}") from exc


@cache
def _usage_plan_ids(names: tuple[str, ...]) -> dict[str, str]:
    """Usage-plan name → id. Infra passes names, not ids: the function's environment cannot
    refer to the usage plans, which depend on the API stage, which depends on the function."""
    found: dict[str, str] = {}
    position: str | None = None
    while True:
        page = _call("get_usage_plans", limit=500, **({"position": position} if position else {}))
        found.update({plan["name"]: plan["id"] for plan in page.get("items", [])})
        position = page.get("position")
        if not position:
            break
    missing = sorted(set(names) - set(found))
    if missing:
        raise GatewayUnavailable(f"API Gateway has no usage plan named {', '.join(missing)}")
    return {name: found[name] for name in names}


def usage_plan_id(name: str, all_names: Iterable[str]) -> str:
    return _usage_plan_ids(tuple(sorted(all_names)))[name]


def find_key(name: str) -> str | None:
    """The id of the API key called `name`, if there is one."""
    page = _call("get_api_keys", nameQuery=name, limit=500)
    for key in page.get("items", []):
        if key.get("name") == name:
            return str(key["id"])
    return None


def ensure_key(name: str, tags: Mapping[str, str]) -> str:
    """The id of the enabled API key called `name` whose value is `name`, created if absent."""
    existing = find_key(name)
    if existing is not None:
        return existing
    created = _call(
        "create_api_key",
        ("ConflictException",),
        name=name,
        value=name,
        enabled=True,
        tags=dict(tags),
    )
    if created is None:  # created meanwhile by a concurrent call
        existing = find_key(name)
        if existing is None:
            raise GatewayUnavailable(f"API Gateway reports key {name} as both taken and absent")
        return existing
    return str(created["id"])


def _leave(key_id: str, usage_plan: str) -> None:
    member = _call(
        "get_usage_plan_key", ("NotFoundException",), usagePlanId=usage_plan, keyId=key_id
    )
    if member is not None:
        _call("delete_usage_plan_key", _ALREADY_DONE, usagePlanId=usage_plan, keyId=key_id)


def place_key(key_id: str, usage_plan: str, other_usage_plans: Iterable[str]) -> None:
    """Put the key in `usage_plan` (by id) and take it out of every other one."""
    _call(
        "create_usage_plan_key",
        ("ConflictException",),
        usagePlanId=usage_plan,
        keyId=key_id,
        keyType="API_KEY",
    )
    for other in other_usage_plans:
        if other != usage_plan:
            _leave(key_id, other)


def delete_key(key_id: str, usage_plans: Iterable[str]) -> None:
    """Take the key out of the usage plans and delete it; a key already gone is fine."""
    for usage_plan in usage_plans:
        _leave(key_id, usage_plan)
    _call("delete_api_key", ("NotFoundException",), apiKey=key_id)

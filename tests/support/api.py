"""A small JSON client over either the Chalice test client or real HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text) if self.text else None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def problem(self, status: int) -> dict[str, Any]:
        """Assert this is an RFC 9457 problem with `status`, and answer its body."""
        assert self.status == status, (self.status, self.text)
        assert self.content_type.startswith("application/problem+json"), self.headers
        body = self.json
        assert body["status"] == status
        assert body["type"] and body["title"] and body["detail"] and body["request_id"]
        return dict(body)


class Transport(Protocol):
    def __call__(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Answer: ...


class Api:
    """Requests on behalf of one API key (or none)."""

    def __init__(
        self, transport: Transport, key: str | None = None, tenant_id: str | None = None
    ) -> None:
        self.transport = transport
        self.key = key
        self.tenant_id = tenant_id

    def as_key(self, key: str | None, tenant_id: str | None = None) -> Api:
        return Api(self.transport, key, tenant_id)

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Answer:
        sent = {"Content-Type": "application/json"} if json_body is not None else {}
        if self.key is not None:
            sent["Authorization"] = f"Bearer {self.key}"
        sent.update(headers or {})
        body = (
            raw
            if raw is not None
            else (json.dumps(json_body).encode() if json_body is not None else None)
        )
        return self.transport(method, path, sent, body)

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> Answer:
        return self.request("POST", path, json_body, **kwargs)

    def patch(self, path: str, json_body: Any = None, **kwargs: Any) -> Answer:
        return self.request("PATCH", path, json_body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Answer:
        return self.request("DELETE", path, **kwargs)

    def create_tenant(self, name: str = "Acme", plan: str = "free") -> Api:
        """As the platform admin: a new tenant, answered as a client holding its admin key."""
        answer = self.post("/v1/admin/tenants", {"name": name, "plan": plan})
        assert answer.status == 201, answer.text
        body = answer.json
        return self.as_key(body["api_key"]["key"], body["id"])

    def create_customer(self, **fields: Any) -> dict[str, Any]:
        answer = self.post("/v1/customers", fields)
        assert answer.status == 201, answer.text
        return dict(answer.json)

    def create_key(self, role: str) -> tuple[Api, str]:
        """As a tenant admin: a client holding a new key of `role`, and the key's id."""
        answer = self.post("/v1/api-keys", {"role": role})
        assert answer.status == 201, answer.text
        return self.as_key(answer.json["key"], self.tenant_id), str(answer.json["id"])

    def as_customer(self, customer_id: str | None = None, **fields: Any) -> Api:
        """As an app key: a client holding a customer token for one customer (by
        `customer_id`, or `external_id` among `fields`)."""
        body = {"customer_id": customer_id, **fields} if customer_id else fields
        answer = self.post("/v1/customer-tokens", body)
        assert answer.status == 201, answer.text
        return self.as_key(answer.json["token"], self.tenant_id)


def profile(body: dict[str, Any]) -> dict[str, Any]:
    """A customer body without `metrics`: GET of one customer adds the metrics the stream
    keeps (which a create or update answer does not have yet)."""
    return {name: value for name, value in body.items() if name != "metrics"}

"""Customer token request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from chalicelib.domain.customer_tokens import DEFAULT_TOKEN_TTL_SECONDS, MAX_TOKEN_TTL_SECONDS
from chalicelib.schemas.common import RequestBody
from chalicelib.schemas.customers import ExternalId


class CustomerTokenCreate(RequestBody):
    customer_id: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="The customer the token acts for."
    )
    external_id: ExternalId | None = Field(None, description="Or: the customer's external id.")
    ttl_seconds: Annotated[int, Field(ge=60, le=MAX_TOKEN_TTL_SECONDS)] = Field(
        DEFAULT_TOKEN_TTL_SECONDS, description="Lifetime in seconds (60 to 3600)."
    )

    @model_validator(mode="after")
    def _exactly_one_customer(self) -> CustomerTokenCreate:
        if (self.customer_id is None) == (self.external_id is None):
            raise ValueError("name the customer by exactly one of customer_id or external_id")
        return self


class CustomerTokenOut(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>' until it expires.")
    customer_id: str
    expires_at: datetime

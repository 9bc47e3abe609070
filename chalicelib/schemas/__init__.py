"""Request and response schemas (pydantic): the API's contract and the OpenAPI source."""

"""Local-only tooling (never deployed): DynamoDB Local, table creation, the local stack."""

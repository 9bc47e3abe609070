"""Every item model shares the process's one DynamoDB client (issue 14), also a model whose
submodule is imported after the others were bound (chalicelib.dal.models loads lazily)."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from chalicelib.dal.connection import bound_settings, dynamodb_client
from chalicelib.dal.models import CustomerItem, DataTableModel


def test_a_model_defined_after_the_binding_uses_the_shared_client_and_the_data_table(
    dynamodb: object,
) -> None:
    # Given models already bound to the tables and the shared client
    settings = bound_settings()
    assert CustomerItem._get_connection().connection.client is dynamodb_client()

    # When a model is defined afterwards (as when a feature's submodule is first imported)
    class LateItem(DataTableModel):
        note = UnicodeAttribute()

    LateItem(pk="T#late#X", sk="LATE", note="stored").save()

    # Then it writes through the one shared client into the data table
    assert LateItem._get_connection().connection.client is dynamodb_client()
    stored = dynamodb_client().get_item(
        TableName=settings.data_table, Key={"pk": {"S": "T#late#X"}, "sk": {"S": "LATE"}}
    )["Item"]
    assert stored["note"] == {"S": "stored"}

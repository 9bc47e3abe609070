"""The three table bases every item model extends and the index shapes they share."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pynamodb.attributes import (
    UnicodeAttribute,
)
from pynamodb.connection.table import TableConnection
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.dal.attribution import (
    WRITTEN_ACTION,
    WRITTEN_BY,
    WRITTEN_REQUEST,
    WRITTEN_ROLE,
    current_writer,
    writer_values,
)
from chalicelib.dal.connection import connect_model
from chalicelib.dal.invalid_values import refused_values_as_invalid, update_images
from chalicelib.dal.keys import tenant_shard_of

UNBOUND = "unbound"  # replaced by chalicelib.dal.connection before first use


class _SharedClientModel(Model):
    """Connects a model on its first use to the process's one DynamoDB client, also when
    its submodule was imported after the other models were bound."""

    @classmethod
    def _get_connection(cls) -> TableConnection:
        if cls.__dict__.get("_connection") is None:
            connect_model(cls)
        return super()._get_connection()


# Every item model extends one of the three bases below, which name its table (through their
# shared Meta, bound lazily) and its keys `pk` and `sk`.


class DataTableModel(_SharedClientModel):
    """Base of every item kept in the data table (tenant data); bound lazily.

    Every item written through a model carries `tenant_shard` and `tenant_item`, the keys
    of the KEYS_ONLY `by_tenant` index through which a deleted tenant's data is purged,
    and the `written_*` attributes naming the current writer (chalicelib.dal.attribution).
    `audit_resource` names the resource type of models whose changes the audit trail
    records (None: bookkeeping the trail skips); their deletes are attributed too.
    """

    class Meta:
        table_name = UNBOUND

    audit_resource: ClassVar[str | None] = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tenant_shard = UnicodeAttribute(null=True)
    tenant_item = UnicodeAttribute(null=True)
    written_by = UnicodeAttribute(null=True, attr_name=WRITTEN_BY)
    written_role = UnicodeAttribute(null=True, attr_name=WRITTEN_ROLE)
    written_request = UnicodeAttribute(null=True, attr_name=WRITTEN_REQUEST)
    written_action = UnicodeAttribute(null=True, attr_name=WRITTEN_ACTION)

    def serialize(self, null_check: bool = True) -> dict[str, dict[str, Any]]:
        values = super().serialize(null_check=null_check)
        pk, sk = values["pk"]["S"], values["sk"]["S"]
        values["tenant_shard"] = {"S": tenant_shard_of(pk)}
        values["tenant_item"] = {"S": f"{pk}|{sk}"}
        writer = current_writer()
        if writer is not None:
            values.update({name: {"S": value} for name, value in writer_values(writer).items()})
        return values

    def tenant_index_actions(self) -> list[Action]:
        """Update actions that list the item in `by_tenant` (for updates that may create it)
        and name the current writer."""
        cls = type(self)
        pk, sk = self.pk, self.sk
        actions = [cls.tenant_shard.set(tenant_shard_of(pk)), cls.tenant_item.set(f"{pk}|{sk}")]
        return actions + self.attribution_actions()

    def attribution_actions(self) -> list[Action]:
        writer = current_writer()
        if writer is None:
            return []
        cls = type(self)
        return [
            cls.written_by.set(writer.actor),
            cls.written_role.set(writer.role),
            cls.written_request.set(writer.request_id),
            cls.written_action.set(writer.action),
        ]

    def save(self, condition: Condition | None = None, **kwargs: Any) -> dict[str, Any]:
        with refused_values_as_invalid(lambda: [self.serialize(null_check=False)]):
            return super().save(condition, **kwargs)

    def update(
        self, actions: list[Action], condition: Condition | None = None, **kwargs: Any
    ) -> Any:
        actions = actions + self.tenant_index_actions()
        with refused_values_as_invalid(lambda: [update_images(actions)]):
            return super().update(actions, condition, **kwargs)

    def delete(
        self, condition: Condition | None = None, *, add_version_condition: bool = True
    ) -> Any:
        self.attribute_delete()
        return super().delete(condition, add_version_condition=add_version_condition)

    def attribute_delete(self) -> None:
        """Name the deleting writer on an audited item just before it is deleted, so the
        stream's REMOVE record (whose old image is the item as last written) says who
        deleted it. Leaves the version alone; a no-op for a missing item."""
        actions = self.attribution_actions()
        if self.audit_resource is None or not actions:
            return
        cls = type(self)
        try:
            cls._get_connection().update_item(
                self.pk, range_key=self.sk, actions=actions, condition=cls.pk.exists()
            )
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise


class ControlTableModel(_SharedClientModel):
    """Base of every item kept in the control table (tenants, keys); bound lazily."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)

    def save(self, condition: Condition | None = None, **kwargs: Any) -> dict[str, Any]:
        with refused_values_as_invalid(lambda: [self.serialize(null_check=False)]):
            return super().save(condition, **kwargs)

    def update(
        self, actions: list[Action], condition: Condition | None = None, **kwargs: Any
    ) -> Any:
        with refused_values_as_invalid(lambda: [update_images(actions)]):
            return super().update(actions, condition, **kwargs)


class AuditTableModel(_SharedClientModel):
    """Base of every item kept in the audit table; bound lazily."""

    class Meta:
        table_name = UNBOUND

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


_M = TypeVar("_M", bound=Model)


class _Gsi1(GlobalSecondaryIndex[_M]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class _Gsi2(GlobalSecondaryIndex[_M]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class _Gsi3(GlobalSecondaryIndex[_M]):
    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class _Gsi4(GlobalSecondaryIndex[_M]):
    class Meta:
        index_name = "gsi4"
        projection = AllProjection()

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


class _Gsi5(GlobalSecondaryIndex[_M]):
    class Meta:
        index_name = "gsi5"
        projection = AllProjection()

    gsi5pk = UnicodeAttribute(hash_key=True)
    gsi5sk = UnicodeAttribute(range_key=True)


class _AuditIndex(GlobalSecondaryIndex[_M]):
    sk = UnicodeAttribute(range_key=True)

"""One-off back-fill after the deploy that added gsi3 to offers: gives every tenant's
multiplier offers stored before it their gsi3 keys and marks the tenant indexed, so the
reads of its multipliers stop falling back to its whole offers partition.

    python -m devtools.index_offers              # the tables named by the environment
    python -m devtools.index_offers --stage local

Run it once the new version serves every request (an older one still running could store
a multiplier without the keys after the tenant is marked); it is safe to run again. Reads
the tenants with one Query of the control table's gsi1 `TENANTS`, and per tenant pages its
offers partition (Query), one conditioned UpdateItem per offer missing its keys and a
PutItem of the marker: no Scan.
"""

from __future__ import annotations

import argparse
import os
import uuid

from chalicelib.dal import control, offers
from chalicelib.dal.attribution import writing_as
from chalicelib.domain.audit import Writer
from chalicelib.domain.tenancy import TenantStatus
from chalicelib.settings import reset_settings
from devtools.stage import stage_environment


def index_all_tenants() -> dict[str, int]:
    """Per tenant not deleted, how many stored offers it gave their keys. The updates name
    this back-fill as their writer, so the audit trail attributes them to it."""
    writer = Writer("system:index_offers", "system", str(uuid.uuid4()), "index_offers")
    with writing_as(writer):
        return {
            tenant.id: offers.index_stored_offers(tenant.id)
            for tenant in control.iter_tenants()
            if tenant.status is not TenantStatus.DELETED
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", help="read the table names from this Chalice stage")
    arguments = parser.parse_args()
    if arguments.stage:
        os.environ.update(stage_environment(arguments.stage))
        reset_settings()
    for tenant, updated in index_all_tenants().items():
        print(f"{tenant}: {updated} offer(s) indexed")


if __name__ == "__main__":
    main()

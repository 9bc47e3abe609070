"""Gives the multiplier offers a deployed stage stored before gsi3 their index keys, and
marks each tenant indexed, so a purchase's multipliers and a customer's offer list read only
offers not ended (docs/data-model.md, "Offers stored before gsi3").

Tenants created since are marked when they are created; until a tenant created before is
marked, those reads fall back to its whole offers partition: correct, but they grow with
every offer it ever made. Run this once after the deploy that added the index keys, when
the new version serves every request (an older one still running could store a multiplier
without keys in a marked tenant; running this again repairs that). It is idempotent, with
the deployer's credentials:

    .venv/bin/python -m infra.offer_index --stage dev
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import MutableMapping, Sequence

from infra.admin_key import use_stage
from infra.stages import STAGES


def index_stage(stage: str, region: str, environ: MutableMapping[str, str] = os.environ) -> int:
    """Back-fill the stage's tenants; answer how many offers needed their keys. The updates
    name this command as their writer, so the audit trail attributes them to it."""
    from chalicelib.dal.attribution import writing_as
    from chalicelib.domain.audit import Writer
    from chalicelib.services.offers import index_stored_offers

    use_stage(stage, region, environ)
    writer = Writer("system:offer_index", "system", str(uuid.uuid4()), "offer_index")
    with writing_as(writer):
        return sum(index_stored_offers().values())


def main(argv: Sequence[str] | None = None) -> None:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", required=True, choices=sorted(STAGES))
    args = parser.parse_args(argv)
    region = boto3.session.Session().region_name
    if not region:
        parser.error("no AWS region configured (set AWS_REGION or a profile's region)")
    count = index_stage(args.stage, region)
    print(f"{count} stored offer(s) of {args.stage} got their index keys; every tenant is marked")


if __name__ == "__main__":
    main()

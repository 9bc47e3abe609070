"""Gives every tenant of a deployed stage its API Gateway key in its plan's usage plan.

New tenants get theirs when they are created; run this once after the deploy that
introduced per-tenant keys (tenants created before it have none, and API Gateway answers
their requests 403 until they do), or whenever a tenant's key needs repairing. It is
idempotent, with the deployer's credentials:

    .venv/bin/python -m infra.gateway_keys --stage dev
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import MutableMapping, Sequence

from chalicelib.domain.plans import PLAN_LIMITS
from infra.admin_key import use_stage
from infra.api import usage_plan_name
from infra.stages import STAGES


def provision_stage(stage: str, region: str, environ: MutableMapping[str, str] = os.environ) -> int:
    """Provision the stage's tenants' gateway keys; answer how many tenants needed it."""
    from chalicelib.services.tenants import provision_gateway_keys

    environ["GATEWAY_USAGE_PLANS"] = json.dumps(
        {plan.value: usage_plan_name(STAGES[stage], plan.value) for plan in PLAN_LIMITS}
    )
    use_stage(stage, region, environ)
    return provision_gateway_keys()


def main(argv: Sequence[str] | None = None) -> None:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", required=True, choices=sorted(STAGES))
    args = parser.parse_args(argv)
    region = boto3.session.Session().region_name
    if not region:
        parser.error("no AWS region configured (set AWS_REGION or a profile's region)")
    count = provision_stage(args.stage, region)
    print(f"{count} tenant(s) of {args.stage} got their API Gateway key in their usage plan")


if __name__ == "__main__":
    main()

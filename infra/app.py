"""The CDK app: `python -m infra.app` synthesises every stack into infra/cdk.out (or the
directory the CDK CLI names in CDK_OUTDIR) with no AWS credentials.

Stacks: `account` (once per account and region), then one per stage: `dev`, `prod`.
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk

from infra.account_stack import ApiGatewayAccountStack
from infra.service_stack import CustomerOpsStack
from infra.stages import APP_NAME, PROJECT_ROOT, STAGES

DEFAULT_OUTDIR = PROJECT_ROOT / "infra" / "cdk.out"
DEFAULT_REGION = "us-east-1"


def _environment() -> cdk.Environment | None:
    """Pinned to an account and region only when the CDK CLI (or the caller) names them."""
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    return cdk.Environment(account=account, region=region) if account and region else None


def build_app(outdir: Path, stages: Sequence[str] = tuple(STAGES)) -> cdk.App:
    """Every stack of the service, ready to synthesise into `outdir`."""
    # `chalice package` wants a region to name service principals; it calls no AWS API.
    os.environ.setdefault(
        "AWS_DEFAULT_REGION", os.environ.get("CDK_DEFAULT_REGION", DEFAULT_REGION)
    )
    packaging_root = outdir / "chalice-packaging"
    shutil.rmtree(packaging_root, ignore_errors=True)
    app = cdk.App(outdir=str(outdir))
    cdk.Tags.of(app).add("app", APP_NAME)
    environment = _environment()
    ApiGatewayAccountStack(app, env=environment)
    for name in stages:
        stack = CustomerOpsStack(
            app, STAGES[name], packaging_dir=packaging_root / name, env=environment
        )
        cdk.Tags.of(stack).add("stage", name)
    return app


def synthesise(outdir: Path, stages: Sequence[str] = tuple(STAGES)) -> cdk.cx_api.CloudAssembly:
    assembly = build_app(outdir, stages).synth()
    # The construct's packaging output is copied into the assembly as assets by now.
    shutil.rmtree(outdir / "chalice-packaging", ignore_errors=True)
    return assembly


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outdir", type=Path, default=None)
    parser.add_argument("--stage", action="append", choices=sorted(STAGES), dest="stages")
    args = parser.parse_args(argv)
    outdir = args.outdir or Path(os.environ.get("CDK_OUTDIR", DEFAULT_OUTDIR))
    assembly = synthesise(outdir.resolve(), args.stages or tuple(STAGES))
    for stack in assembly.stacks:
        print(f"{stack.stack_name}: {Path(assembly.directory) / stack.template_file}")


if __name__ == "__main__":
    main()

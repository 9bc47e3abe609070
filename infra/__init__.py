"""The AWS CDK app that deploys the service (`python -m infra.app`; see infra/README.md)."""

"""The bucket of bulk import files (issue 16): private, KMS-encrypted with the stage's key,
TLS only, every upload expired after a week (a finished import deletes its file at once;
the rule catches abandoned ones). The API may presign uploads and check them; the import
worker reads and deletes them. Objects are `imports/{tenant}/{import id}`."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from chalicelib.dal.import_files import IMPORTS_PREFIX
from infra.stages import StageSettings
from infra.suppressions import skip_checkov

UPLOAD_EXPIRY_DAYS = 7
IMPORT_OBJECTS = f"{IMPORTS_PREFIX}*"
BUCKET_CHECKS = {
    "CKV_AWS_18": (
        "No server access logs: each upload is made and used through the API, whose "
        "requests are in the audit trail and the access logs; the objects live a week at most."
    ),
    "CKV_AWS_21": (
        "No versioning: an import file is written once, read once and deleted; old versions "
        "would keep personal data the deletion and the expiry rule mean to remove."
    ),
}


def imports_bucket(scope: Construct, key: kms.IKey, stage: StageSettings) -> s3.Bucket:
    bucket = s3.Bucket(
        scope,
        "ImportsBucket",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="ExpireImportFiles",
                expiration=Duration.days(UPLOAD_EXPIRY_DAYS),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ],
        removal_policy=stage.removal_policy,
    )
    skip_checkov(bucket.node.default_child, BUCKET_CHECKS)  # type: ignore[arg-type]
    return bucket


def grant_import_files(bucket: s3.Bucket, key: kms.IKey, api: iam.IRole, worker: iam.IRole) -> None:
    """The API presigns PUTs (the URL acts with its role, which also encrypts with the
    key) and checks an upload's size (HeadObject needs GetObject); the worker reads
    (decrypts) and deletes. Nothing lists the bucket."""
    objects = bucket.arn_for_objects(IMPORT_OBJECTS)
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{bucket.stack.region}.amazonaws.com"}}
    api.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:PutObject", "s3:GetObject"], resources=[objects])
    )
    api.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[key.key_arn],
            conditions=via_s3,
        )
    )
    worker.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject", "s3:DeleteObject"], resources=[objects])
    )
    worker.add_to_principal_policy(
        iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn], conditions=via_s3)
    )

"""Where import files are kept: an S3 bucket deployed (uploads are presigned PUTs, reads
are ranged GETs), a local directory otherwise (`make run`: the API process writes the
uploaded file and the runner's import worker reads it; both are processes of one machine,
so a directory is all they need to share, with no S3 stand-in to keep running).

Objects are named by tenant and import id only, never by anything the caller chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chalicelib.domain.tenancy import TenantId
from chalicelib.settings import get_settings

UPLOAD_URL_SECONDS = 3600
LOCAL_IMPORTS_DIR = Path(".local") / "imports"


IMPORTS_PREFIX = "imports/"


def object_key(tenant: TenantId, import_id: str) -> str:
    if not tenant:
        raise ValueError("a tenant is required to name an import file")
    return f"{IMPORTS_PREFIX}{tenant}/{import_id}"


class ImportFiles(Protocol):
    direct_upload: bool

    def upload_url(self, tenant: TenantId, import_id: str, max_bytes: int) -> str | None: ...

    def write(self, tenant: TenantId, import_id: str, data: bytes) -> None: ...

    def size(self, tenant: TenantId, import_id: str) -> int | None: ...

    def read(self, tenant: TenantId, import_id: str, start: int, length: int) -> bytes: ...

    def remove(self, tenant: TenantId, import_id: str) -> None: ...


@dataclass
class DirectoryFiles:
    root: Path
    direct_upload: bool = True

    def _path(self, tenant: TenantId, import_id: str) -> Path:
        return self.root / object_key(tenant, import_id)

    def upload_url(self, tenant: TenantId, import_id: str, max_bytes: int) -> str | None:
        return None

    def write(self, tenant: TenantId, import_id: str, data: bytes) -> None:
        path = self._path(tenant, import_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)

    def size(self, tenant: TenantId, import_id: str) -> int | None:
        path = self._path(tenant, import_id)
        return path.stat().st_size if path.exists() else None

    def read(self, tenant: TenantId, import_id: str, start: int, length: int) -> bytes:
        with self._path(tenant, import_id).open("rb") as file:
            file.seek(start)
            return file.read(length)

    def remove(self, tenant: TenantId, import_id: str) -> None:
        self._path(tenant, import_id).unlink(missing_ok=True)


@dataclass
class BucketFiles:
    bucket: str
    client: Any
    direct_upload: bool = False

    def upload_url(self, tenant: TenantId, import_id: str, max_bytes: int) -> str | None:
        url: str = self.client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": object_key(tenant, import_id)},
            ExpiresIn=UPLOAD_URL_SECONDS,
        )
        return url

    def write(self, tenant: TenantId, import_id: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=object_key(tenant, import_id), Body=data)

    def size(self, tenant: TenantId, import_id: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=object_key(tenant, import_id))
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return int(head["ContentLength"])

    def read(self, tenant: TenantId, import_id: str, start: int, length: int) -> bytes:
        answer = self.client.get_object(
            Bucket=self.bucket,
            Key=object_key(tenant, import_id),
            Range=f"bytes={start}-{start + length - 1}",
        )
        data: bytes = answer["Body"].read()
        return data

    def remove(self, tenant: TenantId, import_id: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=object_key(tenant, import_id))


def import_files() -> ImportFiles:
    settings = get_settings()
    if settings.imports_bucket:
        import boto3
        from botocore.config import Config

        # SigV4: objects are KMS-encrypted, and S3 refuses other signatures for them.
        client = boto3.client(
            "s3", region_name=settings.aws_region, config=Config(signature_version="s3v4")
        )
        return BucketFiles(settings.imports_bucket, client)
    return DirectoryFiles(Path(settings.imports_dir) if settings.imports_dir else LOCAL_IMPORTS_DIR)

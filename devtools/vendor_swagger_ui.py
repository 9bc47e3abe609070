"""Vendor the docs page's Swagger UI files (`make swagger-ui`) from the npm package
`swagger-ui-dist` of the version pinned here, fetched with `npm pack` (needs the registry).

Only the files the page loads are kept (no source maps, no ES bundles, no other entry
points), written to chalicelib/api/swagger_ui/ with a manifest of the version and each
file's sha256; the files are committed, and the service serves them (and checks nothing at
run time: tests/integration/test_openapi.py compares them with the manifest).

    python -m devtools.vendor_swagger_ui
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

from devtools.dynamodb_local import ROOT

PACKAGE = "swagger-ui-dist"
VERSION = "5.35.0"
FILES = ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css")
TARGET = ROOT / "chalicelib" / "api" / "swagger_ui"
MANIFEST = "manifest.json"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendor(target: Path = TARGET) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="swagger-ui-") as scratch:
        packed = subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--json", "--pack-destination", scratch],
            capture_output=True,
            text=True,
            check=True,
        )
        details = json.loads(packed.stdout)[0]
        with tarfile.open(Path(scratch) / details["filename"]) as tarball:
            for name in FILES:
                member = tarball.extractfile(f"package/{name}")
                if member is None:
                    raise RuntimeError(f"{PACKAGE}@{VERSION} has no {name}")
                (target / name).write_bytes(member.read())
    manifest: dict[str, object] = {
        "package": PACKAGE,
        "version": VERSION,
        "integrity": details["integrity"],
        "sha256": {name: sha256_of(target / name) for name in FILES},
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


if __name__ == "__main__":
    print(json.dumps(vendor(), indent=2))

"""Owner-only files for the home folder and its secrets.

Every password the project uses is random per home and lives in `<home>/secrets/` (mode 600 in a 700
folder): never in the repository, in a command line or in a log. Spark reads its one secret (the metastore
password) from a properties file given to spark-submit, because `--conf` values are process arguments
that every user of the machine can read in /proc/<pid>/cmdline.
"""

from __future__ import annotations

import os
import secrets as random_secrets
from pathlib import Path

METASTORE_PASSWORD = "metastore.password"
THRIFT_PASSWORD = "thrift.password"
SPARK_PROPERTIES = "spark-secrets.properties"


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) owner-only, and make an existing one owner-only too. A traverse
    bit for a group other than our own is kept: under root the metastore's own OS user passes through the
    home that way (service/metastore.py), without being able to list it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = path.stat()
    if info.st_uid == os.geteuid():
        service_group = info.st_gid != os.getegid()
        path.chmod(0o700 | (info.st_mode & 0o010 if service_group else 0))
    return path


def write_private(path: Path, text: str) -> Path:
    """Write a file that only its owner can read, without a moment in which it is readable by others."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)
    return path


def secret(secrets_dir: Path, name: str) -> str:
    """The secret stored in `<secrets_dir>/<name>`, created at first use with 24 random bytes."""
    path = secrets_dir / name
    if not path.is_file():
        write_private(path, random_secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def spark_properties(secrets_dir: Path, values: dict[str, str]) -> Path:
    """A spark-submit --properties-file holding `values` (owner-only)."""
    body = "".join(f"{key}={value}\n" for key, value in sorted(values.items()))
    return write_private(secrets_dir / SPARK_PROPERTIES, body)

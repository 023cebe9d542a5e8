"""Compile the LlapSigner stand-in that lets the Thrift server close sessions.

Spark's PyPI build leaves hive-llap-common out of its jars. Closing a Thrift session runs Hive's
SessionState.close(), which calls Hive.get(conf); whenever that builds a new Hive client it first
initialises Hive's FunctionRegistry, which fails with NoClassDefFoundError
(org/apache/hadoop/hive/llap/security/LlapSigner$Signable). The client then sees CloseSession fail
(dbt exits 2). One interface on the server's class path is enough (java/shim); it is compiled from
source, once per SEGMENTATION_HOME, because no Maven downloads are possible here.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from segmentation.config import Settings
from segmentation.errors import SegmentationError

JAVA_DIR = Path(__file__).resolve().parent / "java"


def compile_java(source_dir: Path, out_dir: Path, classpath: str | None = None) -> Path:
    """javac every .java under source_dir into out_dir (a class-path directory); skip when up to date."""
    sources = sorted(source_dir.rglob("*.java"))
    stamp = out_dir / ".compiled"
    if stamp.is_file() and all(src.stat().st_mtime <= stamp.stat().st_mtime for src in sources):
        return out_dir
    javac = shutil.which("javac")
    if javac is None:
        raise SegmentationError("javac not found: the Thrift server needs a JDK 17+ (not only a JRE) "
                                "to build its Hive class-path shim")
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    options = ["-cp", classpath] if classpath else []
    done = subprocess.run([javac, "--release", "17", *options, "-d", str(out_dir), *map(str, sources)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SegmentationError(f"javac failed on {source_dir}: {done.stderr.strip()}")
    stamp.touch()
    return out_dir


def shim_classpath(settings: Settings) -> Path:
    """The class-path directory holding the LlapSigner stand-in, compiled on first use."""
    return compile_java(JAVA_DIR / "shim", settings.catalog_home / "lib" / "hive-llap-shim")


def server_classpath(settings: Settings) -> Path:
    """The Thrift server's own classes (password authenticator, SQL guard), compiled against Spark's jars."""
    from segmentation.service._proc import spark_home

    return compile_java(JAVA_DIR / "server", settings.catalog_home / "lib" / "server",
                        classpath=str(spark_home() / "jars" / "*"))
